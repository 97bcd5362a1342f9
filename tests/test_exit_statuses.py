"""The README's exit-status table, case by case, through the real command in its own process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runstrong_sync import lock
from runstrong_sync.errors import ExitStatus
from tests.support import FIT, ROOT, free_port, run_main


@dataclass
class Case:
    args: tuple[str, ...]
    status: ExitStatus
    says: tuple[str, ...]  # each must be in the output
    never: tuple[str, ...] = ("Traceback",)
    setup: Callable[[Path], dict[str, str]] = field(default=lambda folder: {})


def _no_configuration(folder: Path) -> dict[str, str]:
    home = folder / "fresh-home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "RUNSTRONG_CONFIG": ""}


def _notes(folder: Path) -> dict[str, str]:
    (folder / "notes.txt").write_text("my training notes\n", encoding="utf-8")
    return {}


def _bad_fit(folder: Path) -> dict[str, str]:
    (folder / "broken.fit").write_text("not a FIT file\n", encoding="utf-8")
    return {}


def _wrong_key(folder: Path) -> dict[str, str]:
    path = folder / "wrong.toml"
    path.write_text("[athlete]\nthreshold_heartrate = 170\n", encoding="utf-8")
    return {"RUNSTRONG_CONFIG": str(path)}


def _unopenable_database(folder: Path) -> dict[str, str]:
    (folder / "x.sqlite").write_bytes(b"this is not a database" * 100)
    return {"RUNSTRONG_DATABASE_URL": f"sqlite:///{folder / 'x.sqlite'}"}


def _file_in_the_way(folder: Path) -> dict[str, str]:
    (folder / "a-file").write_text("not a folder\n", encoding="utf-8")
    return {}


CASES = {
    "demo into a folder that cannot be made": Case(
        ("demo", "--out", "{folder}/a-file/demo"),
        ExitStatus.USAGE,
        ("The demo cannot write into", "a-file/demo", "--out DIR"),
        ("database.url", "Traceback"),
        setup=_file_in_the_way,
    ),
    "version": Case(("--version",), ExitStatus.OK, ("runstrong-sync, version",)),
    "status": Case(("status",), ExitStatus.OK, ("database:", "subscribe:")),
    "bad --today": Case(("--today", "25/11/2026", "plan"), ExitStatus.USAGE, ("--today", "2026-11-25")),
    "unknown command": Case(("frobnicate",), ExitStatus.USAGE, ("No such command",)),
    "label of no activity": Case(
        ("label", "999", "easy"), ExitStatus.USAGE, ("No activity with id 999", "runstrong-sync activities")
    ),
    "delete of no activity": Case(
        ("activities", "delete", "999", "--yes"), ExitStatus.USAGE, ("No activity",)
    ),
    "import of a missing file": Case(
        ("import", "/nonexistent.fit"),
        ExitStatus.USAGE,
        ("No such file or folder: /nonexistent.fit", "Nothing was imported"),
        ("set aside", "Traceback"),
    ),
    "athletes remove without a terminal": Case(
        ("athletes", "remove", "anna"), ExitStatus.USAGE, ("--yes", "terminal"), ("Aborted", "Traceback")
    ),
    "rotate-token without a terminal": Case(
        ("feed", "rotate-token"), ExitStatus.USAGE, ("--yes", "subscribe again"), ("Aborted", "Traceback")
    ),
    "init without a terminal": Case(("init",), ExitStatus.USAGE, ("--yes",), setup=_no_configuration),
    "init with a wrong time zone": Case(
        ("init", "--yes", "--time-zone", "Mars/Olympus"),
        ExitStatus.USAGE,
        ("--time-zone", "not an IANA time zone"),
        setup=_no_configuration,
    ),
    "sync with nothing configured": Case(
        ("sync",), ExitStatus.CONFIG, ("Nothing to sync", "runstrong-sync init"), setup=_no_configuration
    ),
    "unknown configuration key": Case(
        ("sync",),
        ExitStatus.CONFIG,
        ("wrong.toml", "athlete.threshold_heartrate", "unknown key"),
        setup=_wrong_key,
    ),
    "import of a file that is not an activity": Case(
        ("import", "{folder}/notes.txt"),
        ExitStatus.REJECTED_INPUT,
        ("notes.txt", "left where it is"),
        ("set aside", "Traceback"),
        setup=_notes,
    ),
    "import of a damaged FIT file": Case(
        ("import", "{folder}/broken.fit"),
        ExitStatus.REJECTED_INPUT,
        ("broken.fit", "set aside"),
        setup=_bad_fit,
    ),
    "database that cannot be opened": Case(
        ("status",), ExitStatus.DATABASE, ("x.sqlite",), setup=_unopenable_database
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_exit_status(name: str, env: Path, tmp_path: Path) -> None:
    case = CASES[name]
    folder = tmp_path / "case"
    folder.mkdir()
    extra = case.setup(folder)
    args = [a.replace("{folder}", str(folder)) for a in case.args]
    result = run_main(*args, env=extra, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == case.status, output
    for text in case.says:
        assert text in output, (text, output)
    for text in case.never:
        assert text not in output, (text, output)


def test_import_leaves_a_named_file_that_is_not_an_activity_where_it_is(env: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my training notes\n", encoding="utf-8")
    result = run_main("import", str(notes))
    assert result.returncode == ExitStatus.REJECTED_INPUT
    assert notes.read_text(encoding="utf-8") == "my training notes\n"
    assert not (tmp_path / "rejected").exists()
    assert "left where they are" in result.stderr


def test_a_second_sync_while_one_holds_the_lock(env: Path) -> None:
    with lock.hold(env / lock.SYNC_LOCK):
        result = run_main("sync")
    assert result.returncode == ExitStatus.LOCKED, result.stderr


def _start(args: list[str], log: Path, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    with log.open("w", encoding="utf-8") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "runstrong_sync", *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(extra or {})},
        )


def _wait_for(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(encoding="utf-8"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in {log.read_text(encoding='utf-8')!r}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("command", ["watch", "daemon"])
def test_watch_and_daemon_stop_with_status_0_and_say_so(
    command: str, signum: int, env: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(FIT / "running" / "activity-small-fenix2-run.fit", inbox)
    config = tmp_path / "watch.toml"
    config.write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\n[sources.fit]\ninbox = "{inbox}"\nsettle_seconds = 0\n'
        f"[server]\nport = {free_port()}\n",
        encoding="utf-8",
    )
    log = tmp_path / f"{command}.log"
    args = [command, "--no-catch-up"] if command == "daemon" else [command]
    process = _start(args, log, {"RUNSTRONG_CONFIG": str(config)})
    try:
        _wait_for(log, "daemon running" if command == "daemon" else "Watching")
        _wait_for(log, "1 new")  # the file waiting in the inbox was imported
        process.send_signal(signum)
        assert process.wait(timeout=60) == 0, log.read_text(encoding="utf-8")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text(encoding="utf-8")
    assert f"{signal.Signals(signum).name} received" in text and "Traceback" not in text
    assert re.search(r"Stopped\.|daemon stopped", text)


def test_the_readme_table_lists_every_status() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit statuses", 1)[1].split("\n\n", 2)[1]
    assert [int(line.split("|")[1]) for line in table.splitlines()[2:]] == [int(s) for s in ExitStatus]
