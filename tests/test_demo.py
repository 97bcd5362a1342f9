"""The newcomer's command: `runstrong-sync demo`, twice, gives the same database and feed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import icalendar
import vobject

from tests.support import FIXTURES, run_main


def test_demo_twice_is_idempotent_and_the_feed_parses(tmp_path: Path, env: Path) -> None:
    out = tmp_path / "demo"
    first = run_main("--today", "2026-11-23", "demo", "--out", str(out))
    assert first.returncode == 0, first.stderr + first.stdout
    feed_before = (out / "runstrong.ics").read_bytes()
    assert "Activities" in first.stdout and "Plan from 2026-11-23" in first.stdout

    second = run_main("--today", "2026-11-23", "demo", "--out", str(out))
    assert second.returncode == 0, second.stderr
    assert (out / "runstrong.ics").read_bytes() == feed_before

    demo_files = list((FIXTURES / "demo").glob("*.fit"))
    with sqlite3.connect(out / "runstrong.sqlite") as db:
        (rows,) = db.execute("select count(*) from activities").fetchone()
        (journal,) = db.execute("pragma journal_mode").fetchone()
    assert rows == len(demo_files)
    assert journal == "wal"

    calendar = icalendar.Calendar.from_ical(feed_before)
    events = calendar.walk("VEVENT")
    # The demo runner's week (hard Tue and Thu evenings, long Sun) leaves Friday as the only legal
    # day: one session a week, said in the week's notes (before: a core session the day before a
    # hard run made a second, which the runner's rule forbids).
    assert 2 <= len(events) <= 8
    assert "Only 1 session(s) fit this week" in first.stdout
    parsed = vobject.readOne(feed_before.decode("utf-8"))
    assert sorted(e.uid.value for e in parsed.vevent_list) == sorted(str(e["UID"]) for e in events)
    for event in events:
        assert str(event["SUMMARY"]).startswith(("Strength:", "Core & hips (", "Done - "))
    starts_ical = sorted(e.decoded("DTSTART") for e in events)
    starts_vobject = sorted(e.dtstart.value for e in parsed.vevent_list)
    assert starts_ical == starts_vobject


def test_demo_without_today_uses_the_day_after_the_sample(tmp_path: Path, env: Path) -> None:
    out = tmp_path / "demo"
    result = run_main("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Demo as of 2026-11-23" in result.stdout
