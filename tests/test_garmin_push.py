"""Planned sessions to Garmin Connect as scheduled workouts, through the library against the fake."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from runstrong_sync.connectors.garmin import GarminConnector
from runstrong_sync.connectors.garmin_push import Mappings, mapping_count
from runstrong_sync.connectors.garmin_steps import MARKER, code_for

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.domain import StrengthSession
from runstrong_sync.errors import ExitStatus
from runstrong_sync.storage.db import Database
from tests.fakegarmin import GarminFake, State
from tests.test_garmin import connect, make_config

# A Thursday night: the demo runner's Friday session, and the same a day later, are inside the 48 h
# stable window.
NOW = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RUNNERS_OWN = {"workoutName": "My kettlebell circuit", "description": "made in the app", "sportType": {}}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with GarminFake(tmp_path, State()) as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        yield server


def planned_db(
    tmp_path: Path, fake: GarminFake, url: str | None = None, **garmin: Any
) -> tuple[Config, Database, int]:
    config = make_config(tmp_path, url, push_workouts=True, **garmin)
    db = connect(config, fake)
    athlete = pipeline.athlete_id(db, config, NOW)
    pipeline.import_paths(db, athlete, config, [FIXTURES / "demo"], NOW)
    return config, db, athlete


def ours(fake: GarminFake) -> dict[int, dict[str, Any]]:
    return {k: w for k, w in fake.state.workouts.items() if MARKER in str(w.get("description"))}


def publish(config: Config, db: Database, athlete: int, sessions: list[StrengthSession]) -> GarminConnector:
    connector = GarminConnector(config)
    context = pipeline.make_context(db, athlete, config, NOW)
    connector.publish_plan(context, sessions, db, athlete)
    return connector


def test_sync_puts_the_stable_window_on_the_garmin_calendar(
    tmp_path: Path, fake: GarminFake, database_url: str
) -> None:
    config, db, athlete = planned_db(tmp_path, fake, database_url)
    try:
        _pushes_the_window(config, db, athlete, fake)
    finally:
        db.dispose()


def _pushes_the_window(config: Config, db: Database, athlete: int, fake: GarminFake) -> None:
    fake.state.workouts[1] = {**RUNNERS_OWN, "workoutId": 1}
    report = pipeline.sync(config, db, now=NOW)
    assert report.exit_status is ExitStatus.OK, report.errors
    sessions = publishing.stored_sessions(db, athlete)
    window = [s for s in sessions if NOW <= s.start < NOW + timedelta(hours=config.planner.stable_hours)]
    assert window, "the demo plan has a session in the next two days"
    pushed = ours(fake)
    assert len(pushed) == len(window) == mapping_count(db, athlete)
    days = sorted(e["calendarDate"] for e in fake.state.scheduled.values())
    assert days == sorted(s.start.date().isoformat() for s in window)
    workout = next(iter(pushed.values()))
    session = next(s for s in window if s.uid in workout["description"])
    steps = workout["workoutSegments"][0]["workoutSteps"]
    assert workout["sportType"]["sportTypeKey"] == "strength_training"
    assert len(steps) == len(session.exercises)
    for exercise, block in zip(session.exercises, steps, strict=True):
        inner = block["workoutSteps"] if block["type"] == "RepeatGroupDTO" else [block]
        work = inner[0]
        assert work["description"].startswith(exercise.name)
        assert exercise.cue in work["description"]
        if exercise.hold_s:
            assert (
                work["endCondition"]["conditionTypeKey"] == "time"
                and work["endConditionValue"] == exercise.hold_s
            )
        else:
            assert (
                work["endCondition"]["conditionTypeKey"] == "reps"
                and work["endConditionValue"] == exercise.reps
            )
        if exercise.sets > 1:
            assert block["numberOfIterations"] == exercise.sets
            assert block["workoutSteps"][1]["stepType"]["stepTypeKey"] == "rest"
    categories = [code_for(e) for e in session.exercises]
    works = [(b["workoutSteps"] if b["type"] == "RepeatGroupDTO" else [b])[0] for b in steps]
    assert [(w["category"], w["exerciseName"]) for w in works] == [
        (c.connect_category, c.connect_name) for c in categories
    ]
    assert any(c.connect_name for c in categories)

    # Nothing changed: the nightly sync makes its one list request and no workout request.
    before = fake.state.total()
    pipeline.sync(config, db, now=NOW)
    assert fake.state.total() - before == 1
    assert fake.state.workouts[1] == {**RUNNERS_OWN, "workoutId": 1}


def test_moved_changed_and_dropped_sessions_follow_and_the_runners_own_stay(
    tmp_path: Path, fake: GarminFake
) -> None:
    config, db, athlete = planned_db(tmp_path, fake)
    pipeline.sync(config, db, now=NOW)
    fake.state.workouts[1] = {**RUNNERS_OWN, "workoutId": 1}
    fake.state.scheduled[2] = {
        "workoutScheduleId": 2,
        "workout": fake.state.workouts[1],
        "calendarDate": "2026-11-24",
    }
    window = [
        s for s in publishing.stored_sessions(db, athlete) if NOW <= s.start < NOW + timedelta(hours=48)
    ]
    first = window[0]
    rows = Mappings(db, athlete, NOW).load()
    old_workout = rows[first.uid].workout_id

    # Moved a day later (still in the window): rescheduled, the same workout.
    moved = replace(first, start=first.start + timedelta(days=1))
    publish(config, db, athlete, [moved, *window[1:]])
    row = Mappings(db, athlete, NOW).load()[first.uid]
    assert row.workout_id == old_workout and row.scheduled_date == moved.start.date().isoformat()
    assert sorted(
        e["calendarDate"] for e in fake.state.scheduled.values() if e["workout"].get("workoutId") != 1
    ) == sorted(s.start.date().isoformat() for s in [moved, *window[1:]])

    # Changed content: the workout is replaced.
    changed = replace(moved, exercises=moved.exercises[:-1])
    connector = publish(config, db, athlete, [changed, *window[1:]])
    assert connector.last_push is not None and connector.last_push.replaced == 1
    assert int(old_workout) not in fake.state.workouts
    assert len(ours(fake)) == len(window)

    # Dropped from the plan: removed there.
    connector = publish(config, db, athlete, list(window[1:]))
    assert connector.last_push is not None and connector.last_push.removed == 1
    assert len(ours(fake)) == len(window) - 1
    assert fake.state.workouts[1] == {**RUNNERS_OWN, "workoutId": 1}  # never touched
    assert 2 in fake.state.scheduled


def test_a_workout_made_before_a_crash_is_found_by_its_marker(tmp_path: Path, fake: GarminFake) -> None:
    config, db, athlete = planned_db(tmp_path, fake)
    pipeline.sync(config, db, now=NOW)
    window = [
        s for s in publishing.stored_sessions(db, athlete) if NOW <= s.start < NOW + timedelta(hours=48)
    ]
    first = window[0]
    # As if a run died after Garmin created the workout but before the id was recorded:
    Mappings(db, athlete, NOW).save(first.uid, workout_id=None, schedule_id=None, scheduled_date=None)
    fake.state.workouts[1] = {**RUNNERS_OWN, "workoutId": 1}
    publish(config, db, athlete, window)
    descriptions = [str(w["description"]) for w in ours(fake).values()]
    assert sum(first.uid in d for d in descriptions) == 1  # not twice
    assert len(ours(fake)) == len(window)
    assert 1 in fake.state.workouts


def test_push_is_off_unless_asked(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    athlete = pipeline.athlete_id(db, config, NOW)
    pipeline.import_paths(db, athlete, config, [FIXTURES / "demo"], NOW)
    pipeline.sync(config, db, now=NOW)
    assert not fake.state.workouts and mapping_count(db, athlete) == 0


def test_disconnect_removes_our_coming_workouts_only(tmp_path: Path, fake: GarminFake) -> None:
    from click.testing import CliRunner

    from runstrong_sync.cli import cli
    from tests.test_garmin import cli_env

    config, db, athlete = planned_db(tmp_path, fake)
    pipeline.sync(config, db, now=NOW)
    assert ours(fake)
    fake.state.workouts[1] = {**RUNNERS_OWN, "workoutId": 1}
    result = CliRunner().invoke(
        cli, ["--today", "2026-11-23", "garmin", "disconnect", "--yes"], env=cli_env(tmp_path, config)
    )
    assert result.exit_code == 0, result.output
    assert "Removed" in result.output
    assert not ours(fake) and 1 in fake.state.workouts
    assert mapping_count(db, athlete) == 0
