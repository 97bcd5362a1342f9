"""The placement rules written out again, independently of the planner, for the tests to check."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from runstrong_sync.domain import Label, StrengthSession
from runstrong_sync.exercises import GROUPS, LIBRARY
from runstrong_sync.plan import DayRun, PlanResult, PlanSettings, week_start

HEAVY_NAMES = frozenset(name for m in LIBRARY if m.heavy for name in (*m.variants.values(), m.harder) if name)
LATEST = time(21, 0)


def day_of(session: StrengthSession, settings: PlanSettings) -> date:
    return session.start.astimezone(settings.zone).date()


def target_for(monday: date, settings: PlanSettings) -> int:
    target = settings.max_sessions
    if settings.experience != "experienced":
        target = min(target, max(2, settings.min_sessions))
    for race in settings.races:
        if race.priority in "AB" and any(
            0 <= (race.day - (monday + timedelta(days=i))).days <= 13 for i in range(7)
        ):
            target = 1
    return min(target, settings.max_sessions)


def full_allowed(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    if day.weekday() not in settings.available_days:
        return False
    race_days = {r.day for r in settings.races}
    if day in race_days or day + timedelta(days=1) in race_days:
        return False
    for run in runs:
        if run.day == day + timedelta(days=1) and (run.hard or run.label is Label.LONG):
            return False
        if run.day == day and run.label is Label.LONG:
            return False
        if run.day == day and run.hard and not settings.hard_days_hard:
            return False
    return True


def light_allowed(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    if day.weekday() not in settings.available_days:
        return False
    race_days = {r.day for r in settings.races}
    if day in race_days or day + timedelta(days=1) in race_days:
        return False
    return not any(r.day == day and (r.hard or r.label is Label.LONG) for r in runs)


def earliest_start(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> datetime | None:
    start = datetime.combine(day, settings.strength_time)
    for run in runs:
        if run.day != day:
            continue
        gap = max(settings.gap_after_run_hours, 4.0) if run.hard else settings.gap_after_run_hours
        end = datetime.combine(day, run.end or time(12, 0)) + timedelta(hours=gap)
        start = max(start, end)
    if start.date() != day or start.time() > LATEST:
        return None
    return start.replace(tzinfo=settings.zone)


def check_session_rules(session: StrengthSession, runs: Sequence[DayRun], settings: PlanSettings) -> None:
    day = day_of(session, settings)
    allowed = full_allowed if session.kind == "full" else light_allowed
    assert allowed(day, runs, settings), f"{session.kind} session not allowed on {day}: {session.why}"
    earliest = earliest_start(day, runs, settings)
    assert earliest is not None, f"no time left on {day} for {session.uid}"
    assert session.start >= earliest, f"{session.start} before {earliest} on {day}"
    assert session.start.time() <= LATEST


def check_content(session: StrengthSession, settings: PlanSettings) -> None:
    day = day_of(session, settings)
    groups = {e.group for e in session.exercises}
    owned = set(settings.equipment) | {"bodyweight"}
    if settings.experience != "experienced":
        owned &= {"bodyweight", "bands"}
        assert "plyometrics" not in groups
    assert all(e.equipment in owned for e in session.exercises), session.exercises
    a_race_near = any(r.priority == "A" and 0 <= (r.day - day).days <= 14 for r in settings.races)
    if a_race_near:
        assert not HEAVY_NAMES.intersection(e.name for e in session.exercises), session.exercises
    tapering = any(0 <= (r.day - day).days <= 13 for r in settings.races)
    if session.kind == "full":
        assert set(GROUPS) <= groups, groups
        assert any(e.per_side for e in session.exercises), "no single-leg work"
        assert session.duration_min <= 40
        if not tapering:
            assert session.duration_min >= 25, session.duration_min
    else:
        assert groups <= {"core", "glutes"}
        assert session.duration_min <= 20


def check_spacing(planned: Sequence[date], done: Sequence[date], settings: PlanSettings) -> None:
    """Planned sessions keep the gap from each other and from strength work already done."""
    gap = settings.min_gap_days
    for a, b in itertools.combinations(sorted(planned), 2):
        assert (b - a).days >= gap, f"strength on {a} and {b}: less than {settings.min_hours_between} h"
    for a in planned:
        for b in done:
            assert a == b or abs((b - a).days) >= gap, f"strength planned {a}, done {b}: too close"


def max_legal(candidates: Sequence[date], occupied: Sequence[date], gap: int, limit: int) -> int:
    free = [d for d in candidates if all(abs((d - o).days) >= gap for o in occupied)]
    for size in range(min(limit, len(free)), 0, -1):
        for combo in itertools.combinations(free, size):
            if all((b - a).days >= gap for a, b in itertools.pairwise(combo)):
                return size
    return 0


def check_counts(
    result: PlanResult,
    runs: Sequence[DayRun],
    done_days: Sequence[date],
    settings: PlanSettings,
    now: datetime,
    horizon_days: int = 14,
) -> int:
    """Per week, in a plan made from nothing: as many full sessions as the target and the legal
    days allow; light ones only to reach the minimum. Returns the number of weeks checked."""
    local_now = now.astimezone(settings.zone)
    sessions = sorted(result.sessions, key=lambda s: s.start)
    today = local_now.date()
    last = week_start(today + timedelta(days=horizon_days - 1))
    mondays = [
        week_start(today) + timedelta(weeks=k) for k in range((last - week_start(today)).days // 7 + 1)
    ]
    assert all(week_start(day_of(s, settings)) in mondays for s in sessions)
    weeks = 0
    for monday in mondays:
        days = [monday + timedelta(days=i) for i in range(7)]
        in_week = [s for s in sessions if week_start(day_of(s, settings)) == monday]
        earlier = [day_of(s, settings) for s in sessions if day_of(s, settings) < monday]
        done_here = {d for d in done_days if week_start(d) == monday}
        target = target_for(monday, settings)
        need = max(0, target - len(done_here))
        occupied = sorted(set(done_days) | set(earlier))

        def startable(day: date) -> bool:
            start = earliest_start(day, runs, settings)
            return start is not None and start > local_now

        full_days = [d for d in days if full_allowed(d, runs, settings) and startable(d)]
        fulls = [s for s in in_week if s.kind == "full"]
        lights = [s for s in in_week if s.kind == "light"]
        expected = max_legal(full_days, occupied, settings.min_gap_days, need)
        assert len(fulls) == expected, (monday, len(fulls), expected, [s.why for s in in_week])
        wanted = min(settings.min_sessions, target)
        if lights:
            assert len(done_here) + len(fulls) + len(lights) <= wanted
        weeks += 1
    return weeks
