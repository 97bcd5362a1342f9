"""Every kind of bad input is set aside with its reason, and the good files beside it still import."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runstrong_sync.config import Config
from runstrong_sync.errors import ExitStatus
from runstrong_sync.pipeline import sync
from runstrong_sync.storage.db import open_database
from tests.support import FIT, run_main

GOOD = ("running/run_with_coordinates.fit", "gpx_tcx/garmin_example.gpx", "synthetic/synthetic_easy.fit")


def activity_without_records() -> bytes:
    """A FIT activity file with a file_id and an activity message, but no session and no record."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.profile_type import FileType, Manufacturer

    builder = FitFileBuilder(auto_define=True)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.DEVELOPMENT.value
    file_id.product = 0
    file_id.serial_number = 4242
    file_id.time_created = 1_700_000_000_000
    builder.add(file_id)
    activity = ActivityMessage()
    activity.timestamp = 1_700_000_000_000
    builder.add(activity)
    return bytes(builder.build().to_bytes())


def bad_inbox(folder: Path, outside: Path) -> dict[str, str]:
    """Good files plus one of each bad kind; returns bad file name -> words its reason must hold."""
    folder.mkdir()
    for name in GOOD:
        shutil.copy(FIT / name, folder / Path(name).name)
    good = (FIT / "running/run_with_coordinates.fit").read_bytes()
    (folder / "empty.fit").write_bytes(b"")
    (folder / "cut.fit").write_bytes(good[:2_000])  # too little left to read
    shutil.copy(FIT / "corrupt/activity-filecrc.fit", folder / "crc.fit")
    (folder / "letter.fit").write_text("Dear runner, this is a letter.\n", encoding="utf-8")
    shutil.copy(FIT / "other_sports/Settings.fit", folder / "Settings.fit")
    (folder / "no_records.fit").write_bytes(activity_without_records())
    (folder / "huge.fit").write_bytes(b"")
    os.truncate(folder / "huge.fit", 65 * 1024 * 1024)  # sparse: costs no disk
    (folder / "bad.fit.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip at all")
    (folder / "page.gpx").write_text("<html><body>Not found</body></html>", encoding="utf-8")
    (folder / "laughs.gpx").write_text(
        '<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">]><gpx>&a;</gpx>', encoding="utf-8"
    )
    secret = outside / "secret.fit"
    shutil.copy(FIT / "running/activity-small-fenix2-run.fit", secret)
    (folder / "link-out.fit").symlink_to(secret)
    (folder / "dangling.fit").symlink_to(folder / "gone.fit")
    os.mkfifo(folder / "pipe.fit")
    latin1 = os.fsencode(folder) + b"/caf\xe9-run.fit"
    with open(latin1, "wb") as handle:
        handle.write(good)
    return {
        "empty.fit": "empty (0 bytes)",
        "cut.fit": "ends early",
        "crc.fit": "checksum does not match",
        "letter.fit": "not a FIT file",
        "Settings.fit": "settings data, not an activity",
        "no_records.fit": "no records",
        "huge.fit": "larger than any activity file",
        "bad.fit.gz": "gzip data is damaged",
        "page.gpx": "not a readable GPX file",
        "laughs.gpx": "DTD or entities",
        "link-out.fit": "points outside the inbox",
        "dangling.fit": "points to nothing",
        "pipe.fit": "not a regular file",
        "caf\ufffd-run.fit": "not valid UTF-8",
    }


def _rejected_reasons(rejected: Path) -> dict[str, str]:
    out = {}
    for reason_file in rejected.glob("*.reason.txt"):
        name = os.fsencode(reason_file.name).decode("utf-8", errors="replace").removesuffix(".reason.txt")
        out[name] = reason_file.read_text(encoding="utf-8")
    return out


def test_every_bad_input_in_the_inbox_is_set_aside_with_its_reason(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    inbox = tmp_path / "inbox"
    expected = bad_inbox(inbox, outside)
    config = Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "sources": {"fit": {"inbox": str(inbox), "settle_seconds": 0}}}
    )
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    report = sync(config, db, now=datetime(2026, 11, 25, tzinfo=UTC), sources=["fit"])
    assert report.exit_status is ExitStatus.REJECTED_INPUT
    assert report.sources[0].created == len(GOOD)
    reasons = _rejected_reasons(inbox / "rejected")
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    # Nothing is lost: every bad file is in rejected/ (links as links), the good ones archived.
    rejected = {os.fsencode(p.name).decode("utf-8", "replace") for p in (inbox / "rejected").iterdir()}
    assert set(expected) <= rejected
    assert (inbox / "rejected" / "link-out.fit").is_symlink()
    assert (outside / "secret.fit").exists()
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == sorted(Path(g).name for g in GOOD)
    assert sorted(p.name for p in inbox.iterdir()) == ["archive", "rejected"]
    # The database remembers each refusal, with where the file went.
    assert len(report.rejected) == len(expected)
    assert all(moved for _, _, moved in report.rejected)


def test_import_command_lists_each_rejection_in_its_json_summary(env: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folder = tmp_path / "drop"
    expected = bad_inbox(folder, outside)
    result = run_main("import", "--json", "--jobs", "2", str(folder))
    assert result.returncode == ExitStatus.REJECTED_INPUT, result.stderr
    summary = json.loads(result.stdout)
    assert summary["new"] == len(GOOD)
    assert summary["files"] == len(GOOD) + len(expected)
    by_file = {Path(r["file"]).name: r for r in summary["rejected"]}
    assert set(by_file) == set(expected)
    for name, words in expected.items():
        assert words in by_file[name]["reason"]
        assert by_file[name]["set_aside_to"]
    assert summary["files_per_s"] > 0
    # An explicit import leaves the good files where they are.
    assert all((folder / Path(g).name).exists() for g in GOOD)


UNPRIVILEGED = 65534  # nobody: root reads files whatever their permissions, so root runs the import as this


def test_unreadable_file_is_set_aside(env: Path, tmp_path: Path) -> None:
    """As root (CI), the command runs as an unprivileged user through setpriv, so the file's
    permissions count; skipped only when neither is possible."""
    as_root = os.geteuid() == 0
    setpriv = shutil.which("setpriv")
    if as_root and setpriv is None:
        pytest.skip("root reads files whatever their permissions, and setpriv is not installed")
    if as_root:
        assert setpriv is not None
        probe = [setpriv, f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}", "--clear-groups", "--"]
        reachable = subprocess.run(
            [*probe, sys.executable, "-c", "import runstrong_sync"], capture_output=True, check=False
        )
        if reachable.returncode != 0:
            pytest.skip(f"the unprivileged user cannot run {sys.executable} (a checkout under /root?)")
    base = Path(tempfile.mkdtemp(prefix="runstrong-unprivileged-")) if as_root else tmp_path
    try:
        folder = base / "drop"
        folder.mkdir()
        locked = folder / "locked.fit"
        shutil.copy(FIT / "running/run_with_coordinates.fit", locked)
        data = base / "data"
        data.mkdir()
        config = base / "config.toml"
        config.write_text('[athlete]\ntime_zone = "Europe/Berlin"\n', encoding="utf-8")
        if as_root:
            for path in (base, folder, data, config):
                os.chown(path, UNPRIVILEGED, UNPRIVILEGED)
        locked.chmod(0)
        environment = {"RUNSTRONG_DATA_DIR": str(data), "RUNSTRONG_CONFIG": str(config), "HOME": str(base)}
        if as_root:
            assert setpriv is not None
            done = subprocess.run(
                [
                    setpriv,
                    f"--reuid={UNPRIVILEGED}",
                    f"--regid={UNPRIVILEGED}",
                    "--clear-groups",
                    "--",
                    sys.executable,
                    "-m",
                    "runstrong_sync",
                    "import",
                    "--json",
                    str(folder),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, **environment},
                timeout=300,
                check=False,
            )
            stdout = done.stdout
        else:
            stdout = run_main("import", "--json", str(folder), env=environment).stdout
        summary = json.loads(stdout)
        assert "permission denied" in summary["rejected"][0]["reason"]
        assert (folder / "rejected" / "locked.fit").exists()  # set aside, not deleted
    finally:
        if as_root:
            shutil.rmtree(base, ignore_errors=True)
