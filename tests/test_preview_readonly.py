"""Showing never changes what was published: `plan`, `week`, `activities` and anything run with
--today for another day are what-ifs that write nothing; only `sync`, `feed` and the daemon publish."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support import run_cli

TODAY = "2026-11-19"
DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def _state(data: Path) -> tuple[bytes, list[tuple[object, ...]], str]:
    feed = (data / "runstrong.ics").read_bytes()
    with sqlite3.connect(data / "runstrong.sqlite") as db:
        sessions = db.execute(
            "select uid, start_utc, sequence, status, why, changed_at, removed"
            " from strength_sessions order by uid"
        ).fetchall()
        state = db.execute("select key, value_json from state order by key").fetchall()
    return feed, sessions, hashlib.sha256(repr(state).encode()).hexdigest()


@pytest.fixture
def synced(env: Path, tmp_path: Path) -> Path:
    staged = tmp_path / "files"
    staged.mkdir()
    for path in sorted(DEMO.glob("*.fit")):
        if path.name[:10] < TODAY:
            shutil.copy(path, staged / path.name)
    assert run_cli("--today", TODAY, "import", str(staged)).exit_code == 0
    assert run_cli("--today", TODAY, "sync").exit_code == 0
    return env


@pytest.mark.parametrize(
    "args",
    [
        ("--today", "2020-01-01", "plan", "--days", "1"),
        ("--today", "2020-01-01", "plan", "--json"),
        ("--today", "2027-06-01", "plan", "--why"),
        ("--today", "2026-11-30", "plan", "--days", "28"),
        ("--today", TODAY, "plan"),
        ("--today", "2027-06-01", "week"),
        ("--today", "2020-01-01", "activities", "--json"),
    ],
)
def test_previews_change_nothing_that_was_published(synced: Path, args: tuple[str, ...]) -> None:
    before = _state(synced)
    assert before[1], "the sync published sessions"
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert _state(synced) == before
    # The next publishing run for the real day: the same bytes, every SEQUENCE unchanged.
    assert run_cli("--today", TODAY, "feed").exit_code == 0
    assert _state(synced)[:2] == before[:2]
    assert run_cli("--today", TODAY, "sync").exit_code == 0
    after = _state(synced)
    assert after[0] == before[0]
    assert [(s[0], s[1], s[2]) for s in after[1]] == [(s[0], s[1], s[2]) for s in before[1]]


def test_plan_in_the_past_and_future_between_two_syncs(synced: Path) -> None:
    feed, sessions, _ = _state(synced)
    for day in ("2020-01-01", "2026-10-01", "2026-11-20", "2026-12-24", "2030-06-01"):
        assert run_cli("--today", day, "plan", "--days", "1").exit_code == 0
        assert run_cli("--today", day, "plan", "--json").exit_code == 0
    assert run_cli("--today", TODAY, "sync").exit_code == 0
    after_feed, after_sessions, _ = _state(synced)
    assert after_feed == feed
    assert [(s[0], s[2]) for s in after_sessions] == [(s[0], s[2]) for s in sessions]
