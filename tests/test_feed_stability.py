"""Re-planning that moves one session changes that event alone; nothing else in the file moves,
and writing the same plan again leaves the file untouched."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.plan import reconcile
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from tests.feedkit import weekly_sessions

BERLIN = ZoneInfo("Europe/Berlin")


def _events(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """The file without its events, and each event's bytes by UID."""
    events: dict[str, bytes] = {}
    for block in re.findall(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", data, flags=re.S):
        (uid,) = re.findall(rb"\r\nUID:([^\r]+)\r\n", block)
        events[uid.decode()] = block
    rest = re.sub(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", b"", data, flags=re.S)
    return rest, events


def _field(block: bytes, name: str) -> str:
    (value,) = re.findall(rf"\r\n{name}:([^\r]+)\r\n".encode(), block)
    return value.decode()


def test_moving_one_session_changes_exactly_that_event(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "data_dir": str(tmp_path),
            "feed": {"busy_only_feed": True},
        }
    )
    db = open_database(config.database_url)
    first_now = datetime(2026, 11, 23, 3, 30, tzinfo=BERLIN)
    athlete = pipeline.athlete_id(db, config, first_now)
    planned = reconcile(weekly_sessions(date(2026, 11, 2), 5, "Europe/Berlin"), [], first_now)
    with db.transaction() as session:
        repo.save_sessions(session, athlete, planned, "Europe/Berlin", first_now)
    path, written = publishing.publish(db, athlete, config, first_now)
    assert written
    before = path.read_bytes()
    busy_path = publishing.feed_files(config)["busy"]
    busy_before = busy_path.read_bytes()

    # The next night's plan moves the Wednesday session of the coming week to Thursday.
    second_now = first_now + timedelta(days=1)
    moved_uid = planned[-2].uid
    replanned = [
        replace(s, start=s.start + timedelta(days=1)) if s.uid == moved_uid else replace(s) for s in planned
    ]
    with db.transaction() as session:
        previous = repo.load_sessions(session, athlete)
        repo.save_sessions(
            session, athlete, reconcile(replanned, previous, second_now), "Europe/Berlin", second_now
        )
    publishing.publish(db, athlete, config, first_now)  # same day, so the same window
    after = path.read_bytes()

    rest_before, events_before = _events(before)
    rest_after, events_after = _events(after)
    assert rest_after == rest_before
    assert events_after.keys() == events_before.keys()
    changed = [uid for uid in events_before if events_before[uid] != events_after[uid]]
    assert changed == [moved_uid]
    old, new = events_before[moved_uid], events_after[moved_uid]
    assert int(_field(new, "SEQUENCE")) == int(_field(old, "SEQUENCE")) + 1
    assert _field(new, "DTSTAMP") == _field(new, "LAST-MODIFIED") == "20261124T023000Z"
    assert _field(old, "DTSTAMP") == "20261123T023000Z"
    assert _field(new, "DTSTART;TZID=Europe/Berlin") == "20261203T183000"  # was Wednesday 2 December
    # Outside the moved event, not one byte changed: same order, same VTIMEZONE, same stamps.
    assert after.replace(new, old) == before
    _, busy_events = _events(busy_path.read_bytes())
    _, busy_events_before = _events(busy_before)
    assert [u for u in busy_events if busy_events[u] != busy_events_before[u]] == [f"busy-{moved_uid}"]


def test_publishing_an_unchanged_plan_leaves_the_file_alone(tmp_path: Path) -> None:
    config = Config.model_validate({"athlete": {"time_zone": "Europe/Berlin"}, "data_dir": str(tmp_path)})
    db = open_database(config.database_url)
    now = datetime(2026, 11, 23, 3, 30, tzinfo=BERLIN)
    athlete = pipeline.athlete_id(db, config, now)
    with db.transaction() as session:
        repo.save_sessions(
            session,
            athlete,
            reconcile(weekly_sessions(date(2026, 11, 2), 5, "Europe/Berlin"), [], now),
            "Europe/Berlin",
            now,
        )
    path, written = publishing.publish(db, athlete, config, now)
    stat = path.stat()
    assert written
    _, again = publishing.publish(db, athlete, config, now + timedelta(hours=5))
    assert not again
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    assert not list(path.parent.glob(".*.tmp"))


def test_a_removed_session_leaves_the_feed(tmp_path: Path) -> None:
    config = Config.model_validate({"athlete": {"time_zone": "Europe/Berlin"}, "data_dir": str(tmp_path)})
    db = open_database(config.database_url)
    now = datetime(2026, 11, 23, 3, 30, tzinfo=BERLIN)
    athlete = pipeline.athlete_id(db, config, now)
    planned = reconcile(weekly_sessions(date(2026, 11, 16), 2, "Europe/Berlin"), [], now)
    with db.transaction() as session:
        repo.save_sessions(session, athlete, planned, "Europe/Berlin", now)
    path, _ = publishing.publish(db, athlete, config, now)
    assert planned[-1].uid.encode() in path.read_bytes()
    with db.transaction() as session:
        repo.save_sessions(session, athlete, planned[:-1], "Europe/Berlin", now + timedelta(days=1))
    publishing.publish(db, athlete, config, now)
    data = path.read_bytes()
    assert planned[-1].uid.encode() not in data and planned[0].uid.encode() in data
