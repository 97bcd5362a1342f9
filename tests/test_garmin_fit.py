"""FIT workout files of the planned sessions, read back by fitparse, fitdecode, fit-tool and our readers."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import fitdecode
import fitparse
import pytest
from runstrong_sync.connectors import garmin_fit
from runstrong_sync.connectors.fitfast import read_fit_fast
from runstrong_sync.connectors.garmin_steps import REPEAT, REST, code_for, steps_for

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import load_config
from runstrong_sync.core.domain import Exercise, StrengthSession
from runstrong_sync.storage.db import open_database
from tests.support import FIXTURES, run_cli

TODAY = "2026-11-23"
DURATION_TYPES = {0: "time", 6: "repeat_until_steps_cmplt", 29: "reps"}
INTENSITIES = {0: "active", 1: "rest"}


def _normal(values: dict[str, Any], names: bool) -> tuple[Any, ...]:
    """One step as a comparable tuple, whichever decoder gave the values."""
    kind = values["duration_type"]
    kind = DURATION_TYPES[kind] if isinstance(kind, int) else kind
    if kind == "time":
        amount = values.get("duration_time")
        amount = values["duration_value"] / 1000 if amount is None else amount
    elif kind == "reps":
        amount = values.get("duration_reps", values.get("duration_value"))
    else:
        amount = (
            values.get("duration_step", values.get("duration_value")),
            values.get("repeat_steps", values.get("target_value")),
        )
    intensity = values.get("intensity")
    intensity = INTENSITIES.get(intensity, intensity) if isinstance(intensity, int) else intensity
    category = values.get("exercise_category")
    if names and isinstance(category, int):
        category = fitparse.profile.FIELD_TYPES["exercise_category"].values.get(category, category)
    return (
        values["message_index"],
        values.get("wkt_step_name"),
        kind,
        float(amount) if isinstance(amount, int | float) else amount,
        intensity,
        values.get("notes"),
        category,
        values.get("exercise_name"),
    )


def _fitparse(data: bytes) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    messages = list(fitparse.FitFile(io.BytesIO(data)).get_messages())
    by_name = [(m.name, {d.name: d.value for d in m}) for m in messages]
    return by_name[0][1], by_name[1][1], [v for n, v in by_name if n == "workout_step"]


def _fitdecode(data: bytes) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    with fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.ENABLED) as reader:
        frames = [f for f in reader if isinstance(f, fitdecode.FitDataMessage)]
    by_name = [(f.name, {field.name: field.value for field in f.fields}) for f in frames]
    return by_name[0][1], by_name[1][1], [v for n, v in by_name if n == "workout_step"]


def _fit_tool(data: bytes) -> list[tuple[Any, ...]]:
    """fit-tool (a fourth, independent reader) sees the same steps."""
    from fit_tool.fit_file import FitFile
    from fit_tool.profile.messages.workout_step_message import WorkoutStepMessage

    steps = [r.message for r in FitFile.from_bytes(data).records if isinstance(r.message, WorkoutStepMessage)]
    return [
        (m.message_index, m.workout_step_name, m.duration_type, m.exercise_category, m.exercise_name, m.notes)
        for m in steps
    ]


@pytest.fixture
def planned(env: Path, tmp_path: Path) -> list[StrengthSession]:
    demo = tmp_path / "demo"
    shutil.copytree(FIXTURES / "demo", demo)
    assert run_cli("--today", TODAY, "import", str(demo)).exit_code in (0, 4)
    assert run_cli("--today", TODAY, "sync").exit_code == 0
    config = load_config()
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, pipeline.now_for(None, config))
    sessions = publishing.stored_sessions(db, athlete)
    db.dispose()
    assert sessions
    return sessions


def test_the_coming_sessions_become_fit_workouts_read_alike_by_three_decoders(
    planned: list[StrengthSession], tmp_path: Path
) -> None:
    out = tmp_path / "NewFiles"
    result = run_cli("--today", TODAY, "workouts", "--fit", str(out), "--days", "14")
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.fit"))
    upcoming = [s for s in planned if s.start.date().isoformat() >= TODAY]
    assert len(files) == len(upcoming) > 0
    by_name = {garmin_fit.file_name(s): s for s in upcoming}
    for path in files:
        data = path.read_bytes()
        session = by_name[path.name]
        steps = steps_for(session)
        ours = garmin_fit.read_workout(data)
        p_file, p_workout, p_steps = _fitparse(data)
        d_file, d_workout, d_steps = _fitdecode(data)
        assert p_file["type"] == d_file["type"] == "workout" and ours.file_id["type"] == 5
        assert read_fit_fast(data).file_id["type"] == "workout"  # the project's decoder takes it too
        assert p_workout["sub_sport"] == d_workout["sub_sport"] == "strength_training"
        assert p_workout["num_valid_steps"] == d_workout["num_valid_steps"] == len(steps)
        assert p_workout["wkt_name"] == d_workout["wkt_name"] == ours.workout["wkt_name"]
        from_fitparse = [_normal(v, names=False) for v in p_steps]
        assert from_fitparse == [_normal(v, names=False) for v in d_steps]
        assert from_fitparse == [_normal(v, names=True) for v in ours.steps]
        # ...and they say what the plan says.
        work = [s for s in from_fitparse if s[2] in ("reps", "time") and s[4] == "active"]
        assert [w[1] for w in work] == [s.name for s in steps if s.kind not in (REST, REPEAT)]
        assert [w[5] for w in work] == [s.notes or None for s in steps if s.kind not in (REST, REPEAT)]
        for exercise, step in zip(session.exercises, work, strict=True):
            expected = exercise.hold_s if exercise.hold_s else exercise.reps
            assert step[3] == float(expected)
        assert _fit_tool(data) == [
            (v["message_index"], v.get("wkt_step_name"), v["duration_type"], v.get("exercise_category"),
             v.get("exercise_name"), v.get("notes")) for v in ours.steps
        ]  # fmt: skip
        repeats = [s for s in from_fitparse if s[2] == "repeat_until_steps_cmplt"]
        assert [r[3][1] for r in repeats] == [e.sets for e in session.exercises if e.sets > 1]
    # Writing again gives the very same files.
    before = {p.name: p.read_bytes() for p in files}
    run_cli("--today", TODAY, "workouts", "--fit", str(out), "--days", "14")
    assert {p.name: p.read_bytes() for p in sorted(out.glob("*.fit"))} == before
    # A shorter window: the files of sessions no longer in it go; a file of the runner's stays.
    (out / "MyWorkout.fit").write_bytes(b"the runner's own")
    result = run_cli("--today", TODAY, "workouts", "--fit", str(out), "--days", "1")
    soon = [s for s in upcoming if s.start.date().isoformat() == TODAY]
    assert sorted(p.name for p in out.glob("runstrong-*.fit")) == sorted(
        garmin_fit.file_name(s) for s in soon
    )
    assert (out / "MyWorkout.fit").read_bytes() == b"the runner's own"
    assert "removed" in result.output


def test_exercises_get_garmin_codes_where_one_matches() -> None:
    def code(name: str) -> tuple[int, int | None, str, str | None]:
        found = code_for(Exercise(name, "core", 3, reps=10))
        return found.fit_category, found.fit_name, found.connect_category, found.connect_name

    assert code("Front plank") == (19, 43, "PLANK", "PLANK")
    assert code("Side plank with top-leg lift") == (19, 66, "PLANK", "SIDE_PLANK")
    assert code("Single-leg glute bridge") == (10, 30, "HIP_RAISE", "SINGLE_LEG_HIP_RAISE")
    assert code("Dumbbell Romanian deadlift") == (8, None, "DEADLIFT", "ROMANIAN_DEADLIFT")
    assert code("Nordic curl")[0] == 65534  # no match: Garmin's "unknown" category, the name in the step
    categories = fitparse.profile.FIELD_TYPES["exercise_category"].values
    assert categories[code("Pogo hops")[0]] == "plyo"
    assert (
        fitparse.profile.FIELD_TYPES["hip_stability_exercise_name"].values[code("Dead bug")[1]] == "dead_bug"
    )


def test_a_damaged_workout_file_is_refused() -> None:
    from datetime import UTC, datetime

    session = StrengthSession(
        "u1",
        datetime(2026, 11, 24, 18, 0, tzinfo=UTC),
        20,
        ("core",),
        (Exercise("Plank", "core", 2, hold_s=30),),
        "",
    )
    data = garmin_fit.session_file(session)
    assert garmin_fit.read_workout(data).steps
    with pytest.raises(Exception, match="CRC"):
        garmin_fit.read_workout(data[:40] + bytes([data[40] ^ 0xFF]) + data[41:])
    with pytest.raises(Exception, match="truncated"):
        garmin_fit.read_workout(data[:-5])
