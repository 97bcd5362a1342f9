"""The optional feed of runs: each run with its label and reasons, free time, stable UIDs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.domain import Activity, Classification, Label, LabelledActivity, Reason
from runstrong_sync.feed import FeedSettings, build_runs_feed
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from runstrong_sync.storage.models import ActivityRow
from tests.feedkit import read_ha_ical, read_icalendar, read_icaljs, read_vobject, unfold

SETTINGS = FeedSettings(name="Strength for running", time_zone="Europe/Berlin")


def labelled(id_: int, start: datetime, sport: str, label: Label, km: float | None) -> LabelledActivity:
    activity = Activity(
        source="fit",
        source_ref=f"/inbox/{id_}.fit",
        external_id=str(id_),
        sport=sport,
        start_utc=start,
        utc_offset_s=3600,
        elapsed_s=3000.4,
        moving_s=2900,
        distance_m=km * 1000 if km else None,
        name="Tuesday intervals, 6 x 800 m; track",
    )
    reasons = (Reason("hr_above_threshold", "14 min above threshold HR (168 bpm)"),)
    return LabelledActivity(id_, activity, Classification(label, 0.82, reasons))


def runs() -> list[LabelledActivity]:
    return [
        labelled(7, datetime(2026, 11, 24, 17, 0, tzinfo=UTC), "run", Label.HARD, 10.0),
        labelled(8, datetime(2026, 11, 22, 8, 0, tzinfo=UTC), "run", Label.LONG, 24.2),
        labelled(9, datetime(2026, 11, 23, 17, 0, tzinfo=UTC), "ride", Label.OTHER, 30.0),
        labelled(10, datetime(2025, 1, 1, 8, 0, tzinfo=UTC), "run", Label.EASY, 8.0),  # outside the window
    ]


def test_runs_feed_lists_runs_in_the_window_with_their_labels(tmp_path: Path) -> None:
    data = build_runs_feed(runs(), SETTINGS, date(2026, 11, 25))
    lines = unfold(data)
    assert [line for line in lines if line.startswith("UID:")] == [
        "UID:run-8@runstrong-sync",
        "UID:run-7@runstrong-sync",
    ]
    assert "SUMMARY:Hard run (10.0 km\\, 50 min)" in lines
    assert "SUMMARY:Long run (24.2 km\\, 50 min)" in lines
    assert "TRANSP:TRANSPARENT" in lines and "CATEGORIES:Running,Hard" in lines
    assert "NAME:Strength for running (runs)" in lines
    assert "DTSTART;TZID=Europe/Berlin:20261124T180000" in lines
    assert "DTSTAMP:20261124T175000Z" in lines  # the end of the run: stable from build to build
    readers = [read_icalendar(data), read_vobject(data), read_ha_ical(data), read_icaljs(data, tmp_path)]
    for seen in readers:
        assert [(s.uid, s.start) for s in seen] == [
            ("run-7@runstrong-sync", datetime(2026, 11, 24, 17, 0, tzinfo=UTC)),
            ("run-8@runstrong-sync", datetime(2026, 11, 22, 8, 0, tzinfo=UTC)),
        ]
        assert seen[0].description is not None
        assert "Label: hard (confidence 82%)" in seen[0].description
        assert "14 min above threshold HR (168 bpm)" in seen[0].description
        assert "Tuesday intervals, 6 x 800 m; track" in seen[0].description
    assert build_runs_feed(list(reversed(runs())), SETTINGS, date(2026, 11, 25)) == data


def test_publish_writes_the_runs_feed_beside_the_main_one(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"data_dir": str(tmp_path), "athlete": {"time_zone": "Europe/Berlin"}, "feed": {"runs_feed": True}}
    )
    db = open_database(config.database_url)
    now = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
    athlete = pipeline.athlete_id(db, config, now)
    item = runs()[0]
    with db.transaction() as session:
        stored = repo.upsert_activity(session, athlete, item.activity, now)
        row = session.get(ActivityRow, stored.activity_id)
        assert row is not None
        repo.save_classification(row, item.classification)
    publishing.publish(db, athlete, config, now)
    db.dispose()
    files = publishing.feed_files(config)
    assert files["runs"] == tmp_path / "runstrong-runs.ics" and "busy" not in files
    lines = unfold(files["runs"].read_bytes())
    uids = [line for line in lines if line.startswith("UID:")]
    # A run published for the first time carries this install's random part (kept in the database).
    assert len(uids) == 1 and uids[0].startswith(f"UID:run-{stored.activity_id}-")
    assert uids[0].endswith("@runstrong-sync") and len(uids[0]) > len(f"UID:run-{stored.activity_id}-@x")
    assert "SUMMARY:Hard run (10.0 km\\, 50 min)" in lines
