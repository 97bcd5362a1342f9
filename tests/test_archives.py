"""Export archives: Strava's and Garmin Connect's layouts import; unsafe entries are refused with a reason."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
from runstrong_sync.connectors.archives import ArchiveLimits, ArchiveRejectedError, plan_archive

from runstrong_sync.errors import ExitStatus
from tests.exports import garmin_export, strava_export
from tests.support import FIT, run_main


def _items() -> list[dict[str, object]]:
    listing = run_main("activities", "--json")
    assert listing.returncode == 0, listing.stderr
    return list(json.loads(listing.stdout))


def test_strava_export_names_and_sports_come_from_activities_csv(env: Path, tmp_path: Path) -> None:
    archive = strava_export(tmp_path / "export_12345.zip")
    result = run_main("import", "--json", str(archive))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["files"] == 4 and summary["new"] == 4 and summary["rejected"] == []
    by_name = {i["name"]: i for i in _items()}
    assert set(by_name) == {"Morning tempo by the river", "Mannheim loop", "Christmas jog", "Evening run"}
    assert by_name["Mannheim loop"]["source"] == "gpx"
    assert by_name["Christmas jog"]["source"] == "tcx"
    assert by_name["Morning tempo by the river"]["source"] == "fit"
    assert by_name["Morning tempo by the river"]["source_ref"].endswith(
        "export_12345.zip!activities/4001.fit.gz"
    )
    assert {i["sport"] for i in by_name.values()} == {"run"}
    # The archive is an explicit import: it stays where it is, whole.
    assert archive.exists()


def test_garmin_export_with_inner_zips_imports_every_activity(env: Path, tmp_path: Path) -> None:
    archive = garmin_export(tmp_path / "garmin.zip")
    result = run_main("import", "--json", str(archive))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["files"], summary["new"]) == (3, 3)
    assert sorted(i["sport"] for i in _items()) == ["ride", "run", "run"]


def test_the_same_activities_from_both_exports_and_loose_files_are_stored_once(
    env: Path, tmp_path: Path
) -> None:
    strava_export(tmp_path / "strava.zip")
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "renamed.fit").write_bytes((FIT / "running/run_with_coordinates.fit").read_bytes())
    (loose / "no_hr.tcx").write_bytes((FIT / "gpx_tcx/no_hr.tcx").read_bytes())
    first = json.loads(run_main("import", "--json", str(loose)).stdout)
    assert first["new"] == 2
    second = json.loads(run_main("import", "--json", str(tmp_path / "strava.zip")).stdout)
    assert second["new"] == 2  # the GPX run and the fenix2 run are new; the other two are known
    items = _items()
    assert len(items) == 4
    tcx = next(i for i in items if i["source"] == "tcx")
    # The export's TCX has heart rate, the loose copy had none: the richer one is kept, named.
    assert tcx["name"] == "Christmas jog"
    again = json.loads(run_main("import", "--json", str(tmp_path / "strava.zip"), str(loose)).stdout)
    assert (again["new"], again["updated"], again["duplicates"]) == (0, 0, 6)


def _zip(path: Path, entries: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_unsafe_entries_are_refused_and_the_rest_imported(env: Path, tmp_path: Path) -> None:
    good = (FIT / "running/run_with_coordinates.fit").read_bytes()
    innermost = io.BytesIO()
    with zipfile.ZipFile(innermost, "w") as deepest:
        deepest.writestr("deep.fit", good)
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w") as inner:
        inner.writestr("inner/deeper.zip", innermost.getvalue())
    folder = tmp_path / "drop"
    folder.mkdir()
    archive = _zip(
        folder / "mixed.zip",
        {
            "good/run.fit": good,
            "/abs/evil.fit": good,
            "../../escape.fit": good,
            "bomb.fit": b"\0" * (20 * 1024 * 1024),
            "nested.zip": middle.getvalue(),
            "broken.fit": good[:2_000],
            "notes.txt": b"ignored: not an activity file",
        },
        symlink="link.fit",
    )
    result = run_main("import", "--json", str(archive))
    assert result.returncode == ExitStatus.REJECTED_INPUT, result.stderr
    summary = json.loads(result.stdout)
    assert summary["new"] == 1
    reasons = {r["file"].rsplit("!", 1)[-1]: r["reason"] for r in summary["rejected"]}
    assert "absolute path" in reasons["/abs/evil.fit"]
    assert "'..'" in reasons["../../escape.fit"]
    assert "zip bomb" in reasons["bomb.fit"]
    assert "symbolic link" in reasons["link.fit"]
    assert "inside an archive inside an archive" in reasons["inner/deeper.zip"]
    assert "ends early" in reasons["broken.fit"]
    assert len(reasons) == 6
    # Each refusal has its reason in rejected/<archive>/; the broken entry is copied out beside it.
    aside = folder / "rejected" / "mixed.zip"
    assert (aside / "broken.fit").read_bytes() == good[:2_000]
    assert "ends early" in (aside / "broken.fit.reason.txt").read_text(encoding="utf-8")
    assert len(list(aside.glob("*.reason.txt"))) == 6
    assert not (tmp_path / "escape.fit").exists() and archive.exists()


def test_whole_archive_refusals(tmp_path: Path) -> None:
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello", encoding="utf-8")
    with pytest.raises(ArchiveRejectedError, match="not a readable zip"):
        plan_archive(not_zip, tmp_path)
    big = _zip(tmp_path / "big.zip", {f"run{i}.fit": b"\0" * 200_000 for i in range(5)})
    with pytest.raises(ArchiveRejectedError, match="more than the 0 MiB allowed; is it a zip bomb"):
        plan_archive(big, tmp_path, ArchiveLimits(max_total_bytes=500_000))
    with pytest.raises(ArchiveRejectedError, match="holds 5 entries, more than 3"):
        plan_archive(big, tmp_path, ArchiveLimits(max_entries=3))


def test_rejected_archive_moves_aside_whole_from_the_inbox(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from runstrong_sync.config import Config
    from runstrong_sync.pipeline import sync
    from runstrong_sync.storage.db import open_database

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "garbage.zip").write_bytes(b"PK\x03\x04 but nothing after")
    strava_export(inbox / "strava.zip")
    empty = _zip(inbox / "empty.zip", {"readme.txt": b"nothing to see"})
    config = Config.model_validate(
        {
            "data_dir": str(tmp_path / "data"),
            "sources": {"fit": {"inbox": str(inbox), "settle_seconds": 0}},
        }
    )
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    report = sync(config, db, now=datetime(2026, 11, 25, tzinfo=UTC), sources=["fit"])
    reasons = {Path(ref).name: reason for ref, reason, _ in report.rejected}
    assert "not a readable zip" in reasons["garbage.zip"]
    assert "no activity files" in reasons[empty.name]
    assert (inbox / "rejected" / "garbage.zip").exists()
    assert (inbox / "rejected" / "garbage.zip.reason.txt").exists()
    # The good export is imported, then archived whole after its last activity was stored.
    assert report.sources[0].created == 4
    assert (inbox / "archive" / "strava.zip").exists()
    assert sorted(p.name for p in inbox.iterdir()) == ["archive", "rejected"]


def test_inner_zip_larger_than_any_activity_file_is_still_opened(tmp_path: Path) -> None:
    archive = garmin_export(tmp_path / "garmin.zip")
    with zipfile.ZipFile(archive) as outer:
        inner = "DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip"
        inner_size = outer.getinfo(inner).file_size
    limits = ArchiveLimits(max_entry_bytes=inner_size - 1)
    plan = plan_archive(archive, tmp_path, limits)
    assert plan.rejected == [] and len(plan.members) == 3
    assert plan.skipped == 2  # the JSON files beside it
