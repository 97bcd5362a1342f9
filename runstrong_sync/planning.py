"""Planning, the pipeline's plan stage: what the planner reads (settings, the runs done and
expected, the training plan's calendar, pause and block state, the previous plan), `core.plan`
run on it, and its sessions and notes stored. With ``save`` false it is a what-if that writes
nothing (the `plan` and `week` previews, --today)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from runstrong_sync.athletes import DEFAULT_ATHLETE, local_day
from runstrong_sync.config import WEEKDAYS, Config
from runstrong_sync.core import expected_runs
from runstrong_sync.core import plan as planner
from runstrong_sync.core.domain import StrengthSession
from runstrong_sync.errors import UpcomingRunsError
from runstrong_sync.storage import feedstate, planstate, repo
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import Athlete

log = logging.getLogger(__name__)
PLAN_NOTES_KEY = "plan.notes"
UPCOMING_KEY = "plan.upcoming"  # the last good copy of the training plan's events


def plan_settings(config: Config, athlete_key: str = DEFAULT_ATHLETE) -> planner.PlanSettings:
    a, p = config.athlete, config.planner
    return planner.PlanSettings(
        zone=a.zone,
        athlete_key=athlete_key,
        min_sessions=p.min_sessions,
        max_sessions=p.max_sessions,
        min_hours_between=p.min_hours_between,
        gap_after_run_hours=p.gap_after_run_hours,
        hard_days_hard=p.hard_days_hard,
        hard_day_right_after=p.hard_day_right_after,
        light_day_before=p.light_day_before,
        stable_hours=p.stable_hours,
        available_days=frozenset(WEEKDAYS.index(d) for d in a.strength_days),
        strength_time=a.strength_time,
        latest_start=p.latest_start if isinstance(p.latest_start, time) else planner.LATEST_START,
        experience=a.experience,
        equipment=tuple(a.equipment),
        races=tuple(
            planner.Race(r.date, r.priority, r.name, r.distance_km and r.distance_km * 1000) for r in p.races
        ),
    )


RACE_REASONS = frozenset({"workout_type_race", "race_effort", "race_effort_pace"})


def day_runs(db: Database, athlete: int, since: datetime) -> tuple[list[planner.DayRun], list[date]]:
    """Runs as the planner sees them (local day, label, end time) and the days with strength work.

    A run belongs to the day it started; one that ends after midnight leaves no time that day."""
    runs: list[planner.DayRun] = []
    strength: list[date] = []
    with db.transaction() as session:
        for row in repo.stream_activity_rows(session, athlete, since):  # any number, in flat memory
            label = repo.row_classification(row)
            if label is None:
                continue
            activity = repo.row_to_activity(row)
            day = activity.local_date
            if activity.is_strength:
                strength.append(day)
                continue
            if not activity.is_run:
                continue
            ends = activity.start_local + timedelta(seconds=activity.elapsed_s)
            end = ends.time() if ends.date() == day else time(23, 59)
            race = activity.workout_type == 1 or any(r.code in RACE_REASONS for r in label.reasons)
            runs.append(
                planner.DayRun(
                    day,
                    label.label,
                    hard=label.counts_as_hard,
                    end=end,
                    title=activity.name or "",
                    race=race,
                    distance_m=activity.distance_m,
                )
            )
    return runs, strength


def upcoming_events(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    http_session: Any = None,
    *,
    save: bool = True,
    today: date | None = None,
) -> list[planner.PlannedEvent]:
    """The training plan's events, or the last good copy when the feed cannot be read now."""
    source = config.planner.upcoming_runs_ics
    if not source:
        return []
    from runstrong_sync import upcoming

    today = today or local_day(config, now)
    try:
        events = upcoming.read_upcoming(
            source, config.athlete.zone, today, http_session=http_session, past_days=upcoming.PAST_DAYS
        )
    except UpcomingRunsError as exc:
        log.warning("%s", exc)
        with db.transaction() as session:
            cached = repo.get_state(session, athlete, UPCOMING_KEY) or {}
        if cached.get("source") != source:
            return []
        return upcoming.events_from_json(cached.get("events", []))
    if save:
        with db.transaction() as session:
            repo.set_state(
                session,
                athlete,
                UPCOMING_KEY,
                {"source": source, "events": upcoming.events_to_json(events)},
                now,
            )
    return events


def athlete_key(db: Database, athlete: int) -> str:
    with db.transaction() as session:
        row = session.get(Athlete, athlete)
        return row.key if row is not None else DEFAULT_ATHLETE


def uid_prefix(db: Database, athlete: int) -> str:
    """What new session UIDs start with: the athlete's key and this install's random part."""
    with db.transaction() as session:
        row = session.get(Athlete, athlete)
        key = row.key if row is not None else DEFAULT_ATHLETE
        return f"{key}-{feedstate.uid_part(session)}"


@dataclass(frozen=True)
class PlanInputs:
    """Everything one planning run reads: settings, runs, strength done, the previous plan."""

    settings: planner.PlanSettings
    runs: list[planner.DayRun]
    strength_days: list[date]
    previous: list[StrengthSession]
    today: date  # the planning day, in the athlete's zone
    since: datetime  # sessions older than this stay as stored


def plan_inputs(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    http_session: Any = None,
    *,
    save: bool = True,
    today: date | None = None,
) -> PlanInputs:
    settings = plan_settings(config, uid_prefix(db, athlete))  # keeps session UIDs apart
    today = today or local_day(config, now)
    since = now - timedelta(weeks=config.planner.history_weeks + 1)
    done, strength_days = day_runs(db, athlete, since)
    with db.transaction() as session:
        pause = planstate.get_pause(session, athlete)
        anchor = planstate.get_anchor(session, athlete)
        completed = planstate.strength_done(session, athlete)
        previous = repo.load_sessions(session, athlete, since)  # older sessions stay as they are
    paused = pause is not None and pause.since <= today and (pause.until is None or today <= pause.until)
    expected = [] if paused else expected_runs.predict_runs(done, today, weeks=config.planner.history_weeks)
    events = upcoming_events(db, athlete, config, now, http_session, save=save, today=today)
    planned = expected_runs.planned_runs(events, settings.zone)
    runs = expected_runs.merge_runs(done, expected, today, planned)
    runs += [r for r in planned if r.race and r.day < today]  # past races of the plan: recovery
    settings = replace(
        settings,
        latest_start=(
            config.planner.latest_start
            if isinstance(config.planner.latest_start, time)
            else expected_runs.learned_latest_start(done)
        ),
        paused_from=pause.since if pause else None,
        paused_until=pause.until if pause else None,
        block_anchor=anchor,
        completed_sessions=completed,
    )
    ordered = sorted(runs, key=lambda r: (r.day, r.expected, r.title))
    return PlanInputs(settings, ordered, strength_days, previous, today, since)


def replan(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    http_session: Any = None,
    *,
    save: bool = True,
    today: date | None = None,
) -> tuple[planner.PlanResult, dict[str, int]]:
    """Plan again; with ``save`` false a what-if that writes nothing (previews, --today)."""
    inputs = plan_inputs(db, athlete, config, now, http_session, save=save, today=today)
    result = _plan(inputs, now)
    if not save:
        return result, {}
    with db.transaction() as session:
        zone_name = config.athlete.time_zone
        counts = repo.save_sessions(session, athlete, result.sessions, zone_name, now, inputs.since)
        if inputs.settings.block_anchor is None and result.sessions:
            first = min(
                [inputs.today, *(s.start.astimezone(inputs.settings.zone).date() for s in result.sessions)]
            )
            planstate.set_anchor(session, athlete, planner.week_start(first), now)
        repo.set_state(session, athlete, PLAN_NOTES_KEY, plan_notes(result, inputs.runs), now)
    return result, counts


@dataclass(frozen=True)
class PlanPreview:
    """A what-if plan: the sessions and notes as they would be, nothing written."""

    sessions: list[StrengthSession]
    notes: dict[str, Any]


def preview_plan(db: Database, athlete: int, config: Config, now: datetime) -> PlanPreview:
    inputs = plan_inputs(db, athlete, config, now, save=False)
    result = _plan(inputs, now)
    return PlanPreview(result.sessions, plan_notes(result, inputs.runs))


def _plan(inputs: PlanInputs, now: datetime) -> planner.PlanResult:
    return planner.plan(
        now=now,
        runs=inputs.runs,
        strength_days=inputs.strength_days,
        previous=inputs.previous,
        settings=inputs.settings,
    )


def plan_notes(result: planner.PlanResult, runs: Sequence[planner.DayRun]) -> dict[str, Any]:
    """The plan's notes as stored and shown (terminal, page): texts, typed notes and the runs."""
    notes = result.notes_json()
    notes["runs"] = [
        {
            "day": r.day.isoformat(),
            "label": r.label.value,
            "hard": r.hard,
            "expected": r.expected,
            "source": r.source,
            "end": r.end.isoformat(timespec="minutes") if r.end else None,
            "title": r.title,
            "race": r.race,
        }
        for r in runs
    ]
    return notes
