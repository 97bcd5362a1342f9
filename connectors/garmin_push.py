"""Planned strength sessions to Garmin Connect, as workouts scheduled on their day (opt-in).

Only sessions in the plan's stable window (``planner.stable_hours`` ahead) are written: later ones
may still move. Each becomes a strength workout (garmin_steps: exercise steps with Garmin's
category and name, reps or a hold, the cue as the step's description, rest steps, repeat groups
for the sets) whose description ends with our marker and the session's UID, scheduled on the
session's day. The ``garmin_workouts`` table maps session UIDs to Garmin's workout and schedule
ids; only workouts in it (or, after a crash, carrying our marker and a UID we were creating) are
ever changed or deleted, so workouts the runner made are never touched.

A session that moves is rescheduled; one whose content changed is replaced; one that left the plan
is deleted there (once it is past, it is left alone: the runner may have done it). Nothing
changed: no request at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from runstrong_sync.core.domain import StrengthSession
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import GarminWorkoutRow

from .garmin_api import GarminLink, GarminNotFoundError
from .garmin_steps import (
    MARKER,
    REPEAT,
    REST,
    WORK,
    Step,
    description,
    steps_for,
    upcoming,
    workout_name,
)

STRENGTH = {"sportTypeId": 5, "sportTypeKey": "strength_training", "displayOrder": 5}
NO_TARGET = {"workoutTargetTypeId": 1, "workoutTargetTypeKey": "no.target", "displayOrder": 1}
INTERVAL = {"stepTypeId": 3, "stepTypeKey": "interval", "displayOrder": 3}
REST_TYPE = {"stepTypeId": 5, "stepTypeKey": "rest", "displayOrder": 5}
REPEAT_TYPE = {"stepTypeId": 6, "stepTypeKey": "repeat", "displayOrder": 6}
BY_TIME = {"conditionTypeId": 2, "conditionTypeKey": "time", "displayOrder": 2, "displayable": True}
BY_REPS = {"conditionTypeId": 10, "conditionTypeKey": "reps", "displayOrder": 10, "displayable": True}
ITERATIONS = {"conditionTypeId": 7, "conditionTypeKey": "iterations", "displayOrder": 7, "displayable": False}


class _Order:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


def _executable(step: Step, order: _Order) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "ExecutableStepDTO", "stepOrder": order.next(), "targetType": NO_TARGET}
    if step.kind == REST:
        body.update(stepType=REST_TYPE, endCondition=BY_TIME, endConditionValue=float(step.seconds or 0))
        return body
    body["stepType"] = INTERVAL
    if step.seconds:
        body.update(endCondition=BY_TIME, endConditionValue=float(step.seconds))
    else:
        body.update(endCondition=BY_REPS, endConditionValue=float(step.reps or 1))
    code = step.code
    body["category"] = code.connect_category if code is not None else None
    body["exerciseName"] = code.connect_name if code is not None else None
    body["description"] = f"{step.name}. {step.notes}".strip() if step.notes else step.name
    return body


def workout_json(session: StrengthSession) -> dict[str, Any]:
    """Garmin Connect's workout JSON (shape as the garminconnect library's strength helpers build)."""
    order = _Order()
    steps = steps_for(session)
    out: list[dict[str, Any]] = []
    index = 0
    while index < len(steps):
        work, rest = steps[index], steps[index + 1]
        repeat = steps[index + 2] if index + 2 < len(steps) and steps[index + 2].kind == REPEAT else None
        if work.kind != WORK or rest.kind != REST:
            raise ValueError("steps come as work, rest[, repeat]")
        if repeat is None:
            out += [_executable(work, order), _executable(rest, order)]
            index += 2
            continue
        group: dict[str, Any] = {
            "type": "RepeatGroupDTO",
            "stepOrder": order.next(),
            "stepType": REPEAT_TYPE,
            "numberOfIterations": repeat.times,
            "endCondition": ITERATIONS,
            "endConditionValue": float(repeat.times or 1),
            "smartRepeat": False,
        }
        group["workoutSteps"] = [_executable(work, order), _executable(rest, order)]
        out.append(group)
        index += 3
    return {
        "workoutName": workout_name(session, dated=False),
        "description": description(session),
        "sportType": STRENGTH,
        "estimatedDurationInSecs": session.duration_min * 60,
        "workoutSegments": [{"segmentOrder": 1, "sportType": STRENGTH, "workoutSteps": out}],
    }


def content_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class PushReport:
    created: int = 0
    moved: int = 0
    replaced: int = 0
    removed: int = 0
    requests: int = 0

    def summary(self) -> str:
        return (
            f"Garmin workouts: {self.created} created, {self.moved} moved, {self.replaced} replaced, "
            f"{self.removed} removed"
        )


class Mappings:
    """The garmin_workouts rows of one athlete; every change is committed at once."""

    def __init__(self, db: Database, athlete: int, now: datetime) -> None:
        self.db, self.athlete, self.now = db, athlete, now

    def load(self) -> dict[str, GarminWorkoutRow]:
        with self.db.transaction() as session:
            rows = session.scalars(
                select(GarminWorkoutRow).where(GarminWorkoutRow.athlete_id == self.athlete)
            )
            found = {row.session_uid: row for row in rows}
            session.expunge_all()
            return found

    def save(self, uid: str, **values: Any) -> None:
        with self.db.transaction() as session:
            row = session.get(GarminWorkoutRow, (self.athlete, uid))
            if row is None:
                row = GarminWorkoutRow(athlete_id=self.athlete, session_uid=uid, content_hash="")
                session.add(row)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = self.now

    def forget(self, uid: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                delete(GarminWorkoutRow).where(
                    GarminWorkoutRow.athlete_id == self.athlete, GarminWorkoutRow.session_uid == uid
                )
            )


def mapping_count(db: Database, athlete: int) -> int:
    with db.transaction() as session:
        rows = session.scalars(
            select(GarminWorkoutRow.session_uid).where(GarminWorkoutRow.athlete_id == athlete)
        )
        return len(list(rows))


class Pusher:
    def __init__(self, link: GarminLink, mappings: Mappings) -> None:
        self.link = link
        self.api: Any = link.api
        self.mappings = mappings
        self.report = PushReport()

    def run(self, sessions: Sequence[StrengthSession], now: datetime, hours: int) -> PushReport:
        rows = self.mappings.load()
        if any(row.workout_id is None for row in rows.values()):
            self.recover({uid for uid, row in rows.items() if row.workout_id is None})
            rows = self.mappings.load()
        wanted = {s.uid: s for s in upcoming(list(sessions), now, hours)}
        today = now.date().isoformat()
        for uid, row in rows.items():
            if uid in wanted:
                continue
            if row.scheduled_date is not None and row.scheduled_date < today:
                self.mappings.forget(uid)  # past: left on Garmin, where the runner may have done it
                continue
            self.delete(row.workout_id)
            self.mappings.forget(uid)
            self.report.removed += 1
        for uid, session in wanted.items():
            self.put(session, rows.get(uid))
        self.report.requests = self.link.calls
        return self.report

    def recover(self, creating: set[str]) -> None:
        """A run stopped between creating a workout and recording it: find ours by the marker."""
        listing = self.link.call("listing workouts", self.api.get_workouts, 0, 100)
        for workout in listing if isinstance(listing, list) else []:
            text = str(workout.get("description") or "")
            if MARKER not in text:
                continue  # the runner's own: never touched
            uid = text.rsplit(MARKER, 1)[1].strip()
            if uid in creating:
                self.delete(workout.get("workoutId"))
        for uid in creating:
            self.mappings.forget(uid)

    def delete(self, workout_id: Any) -> None:
        if workout_id is None:
            return
        with contextlib.suppress(GarminNotFoundError):  # already gone: deleted in Garmin Connect
            self.link.call(f"deleting workout {workout_id}", self.api.delete_workout, workout_id)

    def put(self, session: StrengthSession, row: GarminWorkoutRow | None) -> None:
        body = workout_json(session)
        digest = content_hash(body)
        day = session.start.date().isoformat()
        if row is not None and row.workout_id is not None and row.content_hash == digest:
            if row.scheduled_date != day:
                self.reschedule(session.uid, row, day)
            return
        if row is not None and row.workout_id is not None:
            self.delete(row.workout_id)
            self.report.replaced += 1
        else:
            self.report.created += 1
        self.mappings.save(
            session.uid, workout_id=None, schedule_id=None, scheduled_date=None, content_hash=digest
        )
        created = self.link.call(f"creating the workout for {day}", self.api.upload_workout, body)
        workout_id = str(created["workoutId"])
        self.mappings.save(session.uid, workout_id=workout_id)
        self.schedule(session.uid, workout_id, day)

    def reschedule(self, uid: str, row: GarminWorkoutRow, day: str) -> None:
        if row.schedule_id is not None:
            with contextlib.suppress(GarminNotFoundError):
                self.link.call("moving a workout", self.api.unschedule_workout, row.schedule_id)
        self.schedule(uid, str(row.workout_id), day)
        self.report.moved += 1

    def schedule(self, uid: str, workout_id: str, day: str) -> None:
        answer = self.link.call(
            f"scheduling the workout on {day}", self.api.schedule_workout, workout_id, day
        )
        schedule_id = answer.get("workoutScheduleId") if isinstance(answer, dict) else None
        self.mappings.save(
            uid, schedule_id=str(schedule_id) if schedule_id is not None else None, scheduled_date=day
        )
