"""Importing a folder of good and bad FIT files: good ones stored once, bad ones set aside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from runstrong_sync.errors import ExitStatus
from tests.support import FIT, run_main


def test_import_folder_sets_bad_files_aside_and_exits_with_documented_status(
    db_env: Path, fit_folder: Path
) -> None:
    result = run_main("--today", "2026-11-25", "import", str(fit_folder))
    assert result.returncode == ExitStatus.REJECTED_INPUT, result.stderr
    rejected = fit_folder / "rejected"
    moved = sorted(p.name for p in rejected.iterdir() if not p.name.endswith(".reason.txt"))
    assert moved == [
        "Settings.fit",
        "activity-filecrc.fit",
        "notes.fit",
    ]  # the cut-off copy of run_with_coordinates.fit is read up to its cut (test_truncated_fit)
    reasons = {p.name: p.read_text(encoding="utf-8") for p in rejected.glob("*.reason.txt")}
    assert "checksum" in reasons["activity-filecrc.fit.reason.txt"]
    assert "settings data, not an activity" in reasons["Settings.fit.reason.txt"]
    assert "notes.fit" in result.stderr and "rejected" in result.stderr
    # Good files stay where the user put them (an explicit import does not archive).
    assert (fit_folder / "run_with_coordinates.fit").exists()

    listing = run_main("activities", "--json")
    assert listing.returncode == 0, listing.stderr
    items = json.loads(listing.stdout)
    assert len(items) == 4
    assert {i["sport"] for i in items} == {"run", "ride"}
    for item in items:
        assert set(item) >= {
            "id",
            "source",
            "source_ref",
            "sport",
            "start",
            "duration_s",
            "distance_m",
            "label",
            "confidence",
            "reasons",
        }
        assert item["label"] in ("easy", "hard", "long", "other")
        assert 0 <= item["confidence"] <= 1
        assert item["reasons"]


def test_same_file_twice_and_under_another_name_is_stored_once(db_env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "again"
    folder.mkdir()
    shutil.copy(FIT / "running/run_with_coordinates.fit", folder / "a.fit")
    assert run_main("import", str(folder)).returncode == 0
    shutil.copy(FIT / "running/run_with_coordinates.fit", folder / "renamed-copy.fit")
    second = run_main("-v", "import", str(folder))
    assert second.returncode == 0, second.stderr
    assert "0 new" in second.stdout
    items = json.loads(run_main("activities", "--json").stdout)
    assert len(items) == 1


def test_gzipped_fit_is_read(db_env: Path, tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "gz"
    folder.mkdir()
    data = (FIT / "running/run_with_coordinates.fit").read_bytes()
    (folder / "export.fit.gz").write_bytes(gzip.compress(data, mtime=0))
    assert run_main("import", str(folder)).returncode == 0
    items = json.loads(run_main("activities", "--json").stdout)
    assert len(items) == 1 and items[0]["sport"] == "run"


def test_local_offset_comes_from_the_file(db_env: Path, tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(FIT / "running/activity-small-fenix2-run.fit", folder)
    run_main("import", str(folder))
    item = json.loads(run_main("activities", "--json").stdout)[0]
    # Recorded in Norway in August: local time is UTC+2.
    assert item["start"] == "2015-08-15T16:45:08+02:00"
