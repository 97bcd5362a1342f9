"""Crash safety on real processes: kill -9 at random points, a full disk under the feed, a locked or
unreachable database, an inbox that disappears and comes back, a clock that goes back."""

from __future__ import annotations

import errno
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.errors import ExitStatus
from runstrong_sync.storage.db import open_database
from tests.support import FIT, run_main

DISTINCT = (
    "running/activity-small-fenix2-run.fit",
    "running/2019-09-14-17-22-05.fit",
    "running/run_with_coordinates.fit",
    "other_sports/2016-04-09-13-19-18.fit",
    "synthetic/synthetic_tempo.fit",
)
KILL_ROUNDS = int(os.environ.get("RUNSTRONG_CRASH_ROUNDS", "50"))


def _setup(root: Path) -> tuple[dict[str, str], Path]:
    inbox = root / "inbox"
    inbox.mkdir(parents=True)
    for name in DISTINCT:
        shutil.copy(FIT / name, inbox)
    config = root / "config.toml"
    config.write_text(
        f'data_dir = "{root / "data"}"\n[athlete]\ntime_zone = "Europe/Berlin"\n'
        f'[sources.fit]\ninbox = "{inbox}"\nsettle_seconds = 0\n',
        encoding="utf-8",
    )
    environ = dict(os.environ)
    for name in ("RUNSTRONG_DATA_DIR", "RUNSTRONG_DATABASE_URL", "RUNSTRONG_FIT_INBOX", "RUNSTRONG_TODAY"):
        environ.pop(name, None)
    environ["RUNSTRONG_CONFIG"] = str(config)
    return environ, inbox


def _command(kind: str, inbox: Path) -> list[str]:
    base = [sys.executable, "-m", "runstrong_sync", "--today", "2026-11-25"]
    return [*base, "sync"] if kind == "sync" else [*base, "import", str(inbox)]


def _check(root: Path, inbox: Path, kind: str) -> None:
    database = root / "data" / "runstrong.sqlite"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        activities = connection.execute("SELECT count(*) FROM activities").fetchone()[0]
        identities = connection.execute(
            "SELECT count(*), count(DISTINCT source || external_id) FROM activity_sources"
        ).fetchone()
        running = connection.execute("SELECT count(*) FROM sync_runs WHERE outcome = 'running'").fetchone()
    assert activities == len(DISTINCT), "an activity was lost or duplicated"
    assert identities[0] == identities[1]
    assert running == (0,)
    names = {Path(n).name for n in DISTINCT}
    if kind == "sync":
        assert {p.name for p in (inbox / "archive").iterdir()} == names
        assert not list(inbox.glob("*.fit"))
    else:
        assert {p.name for p in inbox.glob("*.fit")} == names
    feed = root / "data" / "runstrong.ics"
    calendar = Calendar.from_ical(feed.read_bytes())  # complete: a half-written file does not parse
    assert calendar.walk("VEVENT")
    assert feed.read_bytes().rstrip().endswith(b"END:VCALENDAR")


def _round(root: Path, seed: int, window: tuple[float, float]) -> tuple[float, int]:
    rng = random.Random(seed)
    kind = "sync" if seed % 2 == 0 else "import"
    environ, inbox = _setup(root)
    if seed % 10 == 0:  # sometimes a feed exists already: the kill may land while it is replaced
        assert subprocess.run(_command(kind, inbox), env=environ, capture_output=True).returncode == 0
        shutil.rmtree(root / "data")
        if kind == "sync":
            for path in (inbox / "archive").iterdir():
                path.rename(inbox / path.name)
    delay = rng.uniform(*window)
    victim = subprocess.Popen(
        _command(kind, inbox), env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    killed_status = victim.wait()
    again = subprocess.run(_command(kind, inbox), env=environ, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    _check(root, inbox, kind)
    return delay, killed_status


def _duration(root: Path, kind: str) -> float:
    """How long one undisturbed run of ``kind`` takes on this machine now."""
    environ, inbox = _setup(root)
    started = time.monotonic()
    assert subprocess.run(_command(kind, inbox), env=environ, capture_output=True).returncode == 0
    return time.monotonic() - started


@pytest.mark.slow
def test_kill_9_at_random_points_then_a_normal_run_converges(tmp_path: Path) -> None:
    full = min(_duration(tmp_path / "sync-alone", "sync"), _duration(tmp_path / "import-alone", "import"))
    window = (min(0.3, full / 3), full)  # kills land within the shorter of the two runs
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda n: _round(tmp_path / f"round-{n:02d}", n, window), range(KILL_ROUNDS)))
    killed = [status for _, status in results if status == -signal.SIGKILL]
    assert len(results) >= KILL_ROUNDS
    assert len(killed) >= KILL_ROUNDS // 2, "most runs must really have been killed mid-way"


# --- a full disk under the feed -------------------------------------------------------------------


def _feed_setup(tmp_path: Path, feed: Path) -> dict[str, str]:
    environ, _ = _setup(tmp_path)
    config = Path(environ["RUNSTRONG_CONFIG"])
    config.write_text(config.read_text(encoding="utf-8") + f'[feed]\npath = "{feed}"\n', encoding="utf-8")
    return environ


def _assert_old_feed_kept(feed: Path, old: bytes, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == ExitStatus.FAILED, result.stderr
    assert f"The feed {feed} could not be written" in result.stderr
    assert "previous feed is still there" in result.stderr and "Traceback" not in result.stderr
    assert feed.read_bytes() == old
    assert [p.name for p in feed.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_full_disk_while_writing_the_feed_keeps_the_old_one(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the file-size limit test covers this")
    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=False)
    if mounted.returncode != 0:
        pytest.skip("tmpfs cannot be mounted here; the file-size limit test covers this")
    try:
        feed = mount / "runstrong.ics"
        environ = _feed_setup(tmp_path / "site", feed)
        first = subprocess.run(_command("sync", tmp_path), env=environ, capture_output=True, text=True)
        assert first.returncode == 0, first.stderr
        old = feed.read_bytes()
        filler = mount / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        later = [*_command("sync", tmp_path)]
        later[later.index("2026-11-25")] = "2026-11-26"  # another day: the feed must change
        result = subprocess.run(later, env=environ, capture_output=True, text=True)
        _assert_old_feed_kept(feed, old, result)
        filler.unlink()
        assert subprocess.run(later, env=environ, capture_output=True).returncode == 0
        assert feed.read_bytes() != old
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_file_size_limit_gives_a_clear_message_and_keeps_the_old_feed(tmp_path: Path) -> None:
    """Where no tmpfs can be mounted, the disk fills through a file-size limit (EFBIG) instead.
    SQLite hits it first (its shared-memory file): the run stops with the database message, the
    feed is untouched, and once there is room again the next run goes on."""
    feed = tmp_path / "public" / "runstrong.ics"
    environ = _feed_setup(tmp_path / "site", feed)
    first = subprocess.run(_command("sync", tmp_path), env=environ, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    old = feed.read_bytes()

    def limit_file_size() -> None:  # runs in the child: writes past 1 KiB fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    later = [*_command("sync", tmp_path)]
    later[later.index("2026-11-25")] = "2026-11-26"
    result = subprocess.run(
        later, env=environ, capture_output=True, text=True, preexec_fn=limit_file_size, check=False
    )
    assert result.returncode in (ExitStatus.DATABASE, ExitStatus.FAILED), result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert feed.read_bytes() == old
    assert [p.name for p in feed.parent.iterdir() if p.name.endswith(".tmp")] == []
    assert subprocess.run(later, env=environ, capture_output=True).returncode == 0
    with sqlite3.connect(tmp_path / "site" / "data" / "runstrong.sqlite") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


# --- the database: locked, unreachable ------------------------------------------------------------


def test_locked_database_waits_for_the_writer_then_goes_on(tmp_path: Path) -> None:
    environ, inbox = _setup(tmp_path)
    assert subprocess.run(_command("sync", inbox), env=environ, capture_output=True).returncode == 0
    shutil.copy(FIT / DISTINCT[0], inbox / "again.fit")
    database = tmp_path / "data" / "runstrong.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(8)\n"
            "c.execute('COMMIT'); print(time.time(), flush=True)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    result = subprocess.run(_command("sync", inbox), env=environ, capture_output=True, text=True)
    finished = time.time()
    released = float(holder.communicate(timeout=30)[0])
    assert result.returncode == 0, result.stderr
    assert finished >= released  # it waited for the other writer, instead of failing
    assert not (inbox / "again.fit").exists()


def test_unreachable_database_is_one_clear_message(env: Path) -> None:
    with __import__("socket").socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://runner@127.0.0.1:{port}/runstrong"
    result = run_main("sync", env={"RUNSTRONG_DATABASE_URL": url})
    assert result.returncode == ExitStatus.DATABASE, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "cannot be opened" in result.stderr
    assert "Traceback" not in result.stderr


# --- the inbox disappears and comes back; the clock goes back -------------------------------------


def test_inbox_that_disappears_and_comes_back(tmp_path: Path) -> None:
    environ, inbox = _setup(tmp_path)
    moved = tmp_path / "unmounted"
    inbox.rename(moved)
    gone = subprocess.run(_command("sync", inbox), env=environ, capture_output=True, text=True)
    assert gone.returncode == ExitStatus.REJECTED_INPUT
    assert "the inbox folder does not exist" in gone.stderr and "Traceback" not in gone.stderr
    assert (tmp_path / "data" / "runstrong.ics").exists()  # the plan and feed still go out
    moved.rename(inbox)
    back = subprocess.run(_command("sync", inbox), env=environ, capture_output=True, text=True)
    assert back.returncode == 0, back.stderr
    _check(tmp_path, inbox, "sync")


def test_clock_going_back_keeps_the_plan_and_feed_sound(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path),
            "sources": {"fit": {"enabled": False}},
        }
    )
    db = open_database(config.database_url)
    try:
        folder = tmp_path / "files"
        folder.mkdir()
        shutil.copy(FIT / DISTINCT[2], folder)
        now = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, just after the clocks went back
        first = pipeline.sync(config, db, now=now + timedelta(hours=1), import_paths=[folder])
        assert first.exit_status == 0
        plan_before = {s.uid for s in publishing.stored_sessions(db, pipeline.athlete_id(db, config, now))}
        second = pipeline.sync(config, db, now=now)  # an hour earlier than the last run
        assert second.exit_status == 0
        third = pipeline.sync(config, db, now=now - timedelta(days=2))  # a bad NTP step
        assert third.exit_status == 0
        fourth = pipeline.sync(config, db, now=now + timedelta(hours=2))
        assert fourth.exit_status == 0
        plan_after = {s.uid for s in publishing.stored_sessions(db, pipeline.athlete_id(db, config, now))}
        assert plan_before and plan_after
        weeks: dict[tuple[int, int], int] = {}
        for item in publishing.stored_sessions(db, pipeline.athlete_id(db, config, now)):
            week = item.start.isocalendar()[:2]
            weeks[week] = weeks.get(week, 0) + 1
        assert max(weeks.values()) <= config.planner.max_sessions  # no week got doubled sessions
        calendar = Calendar.from_ical(config.feed_path.read_bytes())
        uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
        assert len(uids) == len(set(uids))
        assert not [u for u in uids if u.startswith("sync-health-")]
    finally:
        db.dispose()
