"""The runs feed tells calendars when a run changed, and every install's UIDs are its own."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import create_engine

from runstrong_sync import labelling, pipeline, planning, publishing
from runstrong_sync.config import Config, DatabaseConfig
from runstrong_sync.core.domain import Activity, Label
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database, alembic_config, open_database
from tests.feedkit import JS_DIR, node_ready

NOW = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)


def _config(folder: Path) -> Config:
    return Config.model_validate(
        {"data_dir": str(folder), "athlete": {"time_zone": "Europe/Berlin"}, "feed": {"runs_feed": True}}
    )


def _run(start: datetime, minutes: float = 50) -> Activity:
    return Activity(
        source="fit",
        source_ref="/inbox/tempo.fit",
        external_id=f"garmin-{int(start.timestamp())}",
        sport="run",
        start_utc=start,
        utc_offset_s=3600,
        elapsed_s=minutes * 60,
        moving_s=minutes * 60,
        distance_m=10_000,
        name="Tempo",
    )


def _store(db: Database, config: Config, activity: Activity) -> tuple[int, int]:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        stored = repo.upsert_activity(session, athlete, activity, NOW)
    labelling.relabel(db, athlete, config, NOW)
    return athlete, stored.activity_id


def _icalendar_runs(data: bytes) -> list[dict[str, Any]]:
    events = Calendar.from_ical(data).walk("VEVENT")
    return [
        {
            "uid": str(e["uid"]),
            "sequence": int(e["sequence"]),
            "dtstamp": e["dtstamp"].dt,
            "last_modified": e["last-modified"].dt,
            "summary": str(e["summary"]),
        }
        for e in events
    ]


def _icaljs_runs(data: bytes, tmp_path: Path) -> list[dict[str, Any]]:
    if not node_ready():
        pytest.skip("ical.js is not installed: run `npm ci --prefix tests/js` (and have node on PATH)")
    path = tmp_path / "runs-for-icaljs.ics"
    path.write_bytes(data)
    result = subprocess.run(
        ["node", str(JS_DIR / "read_feed.mjs"), str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [
        {
            "uid": e["uid"],
            "sequence": e["sequence"],
            "dtstamp": datetime.fromisoformat(e["dtstamp"].replace("Z", "+00:00")),
            "last_modified": datetime.fromisoformat(e["last_modified"].replace("Z", "+00:00")),
            "summary": e["summary"],
        }
        for e in json.loads(result.stdout)["events"]
    ]


def test_relabelling_a_run_raises_sequence_dtstamp_and_last_modified(tmp_path: Path) -> None:
    config = _config(tmp_path)
    db = open_database(config.database_url)
    athlete, run_id = _store(db, config, _run(NOW - timedelta(days=1)))
    publishing.publish(db, athlete, config, NOW)
    runs_file = publishing.feed_files(config)["runs"]
    before = runs_file.read_bytes()
    publishing.publish(db, athlete, config, NOW + timedelta(hours=1))
    assert runs_file.read_bytes() == before  # nothing changed: the same bytes, the same stamp
    with db.transaction() as session:
        assert repo.set_override(session, athlete, run_id, Label.LONG) is not None
    later = NOW + timedelta(hours=2)
    labelling.relabel(db, athlete, config, later)
    publishing.publish(db, athlete, config, later)
    after = runs_file.read_bytes()
    db.dispose()
    for read in (_icalendar_runs, lambda data: _icaljs_runs(data, tmp_path)):
        (old,), (new,) = read(before), read(after)
        assert new["uid"] == old["uid"]
        assert (old["summary"], new["summary"]) == (
            "Easy run (10.0 km, 50 min)",
            "Long run (10.0 km, 50 min)",
        )
        assert (old["sequence"], new["sequence"]) == (0, 1)
        assert old["dtstamp"] < new["dtstamp"] == later
        assert old["last_modified"] < new["last_modified"] == later


def test_two_installs_never_share_a_uid(tmp_path: Path) -> None:
    uids = []
    for name in ("one", "two"):
        config = _config(tmp_path / name)
        db = open_database(config.database_url)
        athlete, _ = _store(db, config, _run(NOW - timedelta(days=1)))
        planning.replan(db, athlete, config, NOW)
        publishing.publish(db, athlete, config, NOW)
        db.dispose()
        found = set()
        for path in publishing.feed_files(config).values():
            found |= {str(e["uid"]) for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")}
        assert any(u.startswith("run-") for u in found) and any(u.startswith("default-") for u in found)
        uids.append(found)
    assert uids[0] and uids[1] and not uids[0] & uids[1]


def test_runs_published_before_the_upgrade_keep_their_uids(tmp_path: Path, database_url: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _config(tmp_path).model_copy(update={"database": DatabaseConfig(url=database_url)})
    engine = create_engine(config.database_url)
    alembic = alembic_config(engine)
    before = ScriptDirectory.from_config(alembic).get_revision("0006_firsthour").down_revision
    command.upgrade(alembic, "head")  # today's code stores the run (the models name today's columns)...
    old = Database(engine)
    athlete = pipeline.athlete_id(old, config, NOW)
    with old.transaction() as session:
        stored = repo.upsert_activity(session, athlete, _run(NOW - timedelta(days=2)), NOW)
    old.dispose()
    command.downgrade(alembic, str(before))  # ...in a database taken back to just before this change
    db = open_database(config.database_url)  # migrates to the newest schema
    _, new_id = _store(db, config, _run(NOW - timedelta(days=1), minutes=40))
    publishing.publish(db, athlete, config, NOW)
    db.dispose()
    uids = {
        str(e["uid"])
        for e in Calendar.from_ical(publishing.feed_files(config)["runs"].read_bytes()).walk("VEVENT")
    }
    assert f"run-{stored.activity_id}@runstrong-sync" in uids
    assert f"run-{new_id}@runstrong-sync" not in uids and len(uids) == 2
