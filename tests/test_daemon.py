"""The daemon: nightly sync on the athlete's wall clock (through an injected clock), polling,
catch-up, clock jumps, and SIGTERM/SIGINT on the real process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from runstrong_sync.config import Config
from runstrong_sync.daemon import Daemon
from runstrong_sync.errors import ExitStatus
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.storage.models import SyncRunRow
from tests.support import FIT, free_port, run_main

BERLIN = ZoneInfo("Europe/Berlin")
DISTINCT = (
    "running/activity-small-fenix2-run.fit",
    "running/2019-09-14-17-22-05.fit",
    "running/run_with_coordinates.fit",
    "other_sports/2016-04-09-13-19-18.fit",
    "synthetic/synthetic_tempo.fit",
)


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, *args: int) -> None:
        self.now = datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


@pytest.fixture
def db_and_config(tmp_path: Path) -> Iterator[tuple[Database, Config]]:
    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path / "data"),
            "sources": {"fit": {"enabled": False}},
            "daemon": {"sync_time": "03:30"},
        }
    )
    db = open_database(config.database_url)
    yield db, config
    db.dispose()


def _pipeline_runs(db: Database) -> list[datetime]:
    with db.transaction() as session:
        rows = session.scalars(select(SyncRunRow).where(SyncRunRow.source == "pipeline")).all()
        return [r.started_at for r in rows]


def test_nightly_sync_runs_at_local_time_across_dst_and_clock_jumps(
    db_and_config: tuple[Database, Config],
) -> None:
    db, config = db_and_config
    clock = FakeClock(datetime(2026, 3, 27, 22, 0, tzinfo=BERLIN))
    daemon = Daemon(config, db, clock=clock, catch_up=False)
    daemon.plan_jobs()
    daemon.tick()
    assert _pipeline_runs(db) == []

    clock.set_local(2026, 3, 28, 3, 29, 59)
    daemon.tick()
    assert _pipeline_runs(db) == []
    clock.set_local(2026, 3, 28, 3, 30, 1)
    daemon.tick()
    daemon.tick()
    assert _pipeline_runs(db) == [datetime(2026, 3, 28, 2, 30, 1, tzinfo=UTC)]  # 03:30 CET

    # The night the clocks go forward: still 03:30 on the wall, now an hour less from UTC.
    clock.set_local(2026, 3, 29, 3, 30, 0)
    daemon.tick()
    assert _pipeline_runs(db)[-1] == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST

    # The clock is set back three days (a bad NTP step): no run now, and not days of silence after.
    clock.now -= timedelta(days=3)
    daemon.tick()
    assert len(_pipeline_runs(db)) == 2
    assert daemon.scheduler.next_run - daemon.local_now() <= timedelta(days=1)

    # It jumps forward five days (a machine resumed from sleep): the missed sync runs once.
    clock.now += timedelta(days=8)
    daemon.tick()
    daemon.tick()
    assert len(_pipeline_runs(db)) == 3
    assert daemon.scheduler.next_run - daemon.local_now() <= timedelta(days=1)


def test_polling_and_catch_up(db_and_config: tuple[Database, Config]) -> None:
    db, config = db_and_config
    config = config.model_copy(update={"daemon": config.daemon.model_copy(update={"poll_minutes": 30})})
    clock = FakeClock(datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN))
    daemon = Daemon(config, db, clock=clock)  # never synced: catches up at start
    daemon.plan_jobs()
    daemon.tick()
    assert len(_pipeline_runs(db)) == 1
    for _ in range(120):  # two hours, minute by minute
        clock.now += timedelta(minutes=1)
        daemon.tick()
    assert len(_pipeline_runs(db)) == 1 + 4

    restarted = Daemon(config, db, clock=clock)  # synced a moment ago: no catch-up
    restarted.plan_jobs()
    restarted.tick()
    assert len(_pipeline_runs(db)) == 5
    assert restarted.scheduler.next_run - restarted.local_now() == timedelta(minutes=30)  # the poll


# --- the real process ----------------------------------------------------------------------------


@contextmanager
def _daemon(*args: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A daemon process, killed at the end if the test has not stopped it."""
    process, log = _start_daemon(*args)
    try:
        yield process, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _start_daemon(*args: str) -> tuple[subprocess.Popen[str], Path]:
    log = Path(os.environ["RUNSTRONG_DATA_DIR"]).parent / f"daemon-{time.monotonic_ns()}.log"
    handle = log.open("w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "runstrong_sync", "daemon", *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    handle.close()
    return process, log


def _wait_for(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


@pytest.fixture
def daemon_inbox(env: Path, tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in DISTINCT:
        shutil.copy(FIT / name, inbox)
    for n in range(10):  # copies under other names: read, found known, archived
        shutil.copy(FIT / DISTINCT[0], inbox / f"copy-{n:02d}.fit")
    (tmp_path / "config.toml").write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\n[sources.fit]\ninbox = "{inbox}"\nsettle_seconds = 0\n'
        f"[server]\nport = {free_port()}\n",
        encoding="utf-8",
    )
    return inbox


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_idle_daemon_stops_cleanly_on_signal(env: Path, signum: int) -> None:
    with _daemon("--no-catch-up") as (process, log):
        _wait_for(lambda: "daemon running" in log.read_text(encoding="utf-8"))
        second, second_log = _start_daemon("--no-catch-up")
        assert second.wait(timeout=60) == ExitStatus.LOCKED
        assert "Another daemon is still running" in second_log.read_text(encoding="utf-8")
        process.send_signal(signum)
        assert process.wait(timeout=30) == 0
    text = log.read_text(encoding="utf-8")
    assert "daemon stopped" in text and "Traceback" not in text


def test_sigterm_mid_sync_finishes_the_file_and_a_restart_goes_on(daemon_inbox: Path) -> None:
    archive = daemon_inbox / "archive"
    with _daemon() as (process, log):
        _wait_for(lambda: archive.is_dir() and any(archive.iterdir()))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    text = log.read_text(encoding="utf-8")
    assert "SIGTERM received" in text and "Traceback" not in text, text
    archived = {p.name for p in archive.iterdir()}
    waiting = {p.name for p in daemon_inbox.glob("*.fit")}
    assert archived and not archived & waiting
    assert not waiting or "Stopped while reading fit" in text
    assert len(archived) + len(waiting) == len(DISTINCT) + 10  # nothing lost between the two
    stored = json.loads(run_main("activities", "--json").stdout)
    stored_refs = {Path(a["source_ref"]).name for a in stored}
    assert stored_refs <= archived  # whatever was archived was committed first

    with _daemon() as (process, log):  # the interrupted sync is not a success: it catches up
        _wait_for(lambda: not any(daemon_inbox.glob("*.fit")))
        _wait_for(lambda: "finished with exit status" in log.read_text(encoding="utf-8"))
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    assert len(json.loads(run_main("activities", "--json").stdout)) == len(DISTINCT)


def test_one_process_serves_watches_and_syncs(env: Path, tmp_path: Path) -> None:
    """The daemon as a self-hoster runs it: the feed and the week page served, a file dropped in
    the inbox imported and published, SIGTERM a clean stop."""
    import requests

    inbox = tmp_path / "drop"
    inbox.mkdir()
    port = free_port()
    (tmp_path / "config.toml").write_text(
        f'[athlete]\ntime_zone = "Europe/Berlin"\nthreshold_hr = 168\n[sources.fit]\ninbox = "{inbox}"\n'
        f"settle_seconds = 1\n[server]\nport = {port}\n",
        encoding="utf-8",
    )
    with _daemon() as (process, log):
        database = Path(os.environ["RUNSTRONG_DATA_DIR"]) / "runstrong.sqlite"
        _wait_for(lambda: "daemon running" in log.read_text(encoding="utf-8"))
        db = open_database(f"sqlite:///{database}")
        with db.transaction() as session:
            from runstrong_sync.storage.models import Athlete

            token = session.scalars(select(Athlete.feed_token)).one()
        db.dispose()
        feed = f"http://127.0.0.1:{port}/feed/{token}/strength.ics"
        _wait_for(lambda: requests.get(feed, timeout=5).status_code == 200)
        before = requests.get(feed, timeout=5)
        assert before.headers["content-type"] == "text/calendar; charset=utf-8"
        page_url = f"http://127.0.0.1:{port}/feed/{token}/"
        page = requests.get(page_url, timeout=5)
        assert page.status_code == 200 and "week at a glance" in page.text
        assert _load_minutes(page.text) == 0
        wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off, never the token
        assert requests.get(f"http://127.0.0.1:{port}/feed/{wrong}/", timeout=5).status_code == 404

        # A run from last week: it shows in the page's four weeks of load once imported.
        run = next((FIT.parent / "demo").glob("2026-11-1*-easy.fit"))
        shutil.copy(run, inbox / "new-run.fit")
        _wait_for(lambda: (inbox / "archive" / "new-run.fit").exists())
        # The watcher asked, the daemon synced: the page now counts the run's minutes.
        _wait_for(lambda: _load_minutes(requests.get(page_url, timeout=5).text) > 0)
        assert requests.get(feed, timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text and token not in text


def _load_minutes(page: str) -> int:
    """Minutes of running in the page's load table."""
    import re

    return sum(int(m) for m in re.findall(r"<td>(\d+) min</td>", page))
