"""The placement rules written out again, independently of the planner, for the tests to check.

The runner's rule is absolute: no session of any kind on the day of or the day before a hard run,
a long run or a race (a light core session there only with the explicit opt-in). A hard-run day
takes a session only when the runner turned "hard days hard" on, and then only as the fallback when
the better days cannot hold the week's minimum. No strength in the recovery days after a race;
short sessions without plyometrics or heavy leg work in the week after them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from runstrong_sync.core.domain import Label, StrengthSession
from runstrong_sync.core.exercises import GROUPS, LIBRARY
from runstrong_sync.core.plan import DayRun, PlanResult, PlanSettings, week_start

HEAVY_NAMES = frozenset(name for m in LIBRARY if m.heavy for name in (*m.variants.values(), m.harder) if name)
PLYO_NAMES = frozenset(name for m in LIBRARY if m.plyometric for name in m.variants.values())
# Days without strength after a race, by distance (training-rules.md, "After a race").
RECOVERY = ((6_000, 3), (12_000, 5), (25_000, 7), (38_000, 10))
LONGEST_RECOVERY = 14
BACK_DAYS = 7


def day_of(session: StrengthSession, settings: PlanSettings) -> date:
    return session.start.astimezone(settings.zone).date()


def race_days(runs: Sequence[DayRun], settings: PlanSettings) -> dict[date, float | None]:
    races: dict[date, float | None] = {r.day: r.distance_m for r in runs if r.race}
    for race in settings.races:
        races[race.day] = race.distance_m or races.get(race.day) or 10_000.0
    return races


def recovery_for(distance: float | None) -> int:
    metres = distance if distance is not None else 10_000.0
    return next((days for up_to, days in RECOVERY if metres <= up_to), LONGEST_RECOVERY)


def in_recovery(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    return any(
        1 <= (day - race).days <= recovery_for(dist) for race, dist in race_days(runs, settings).items()
    )


def in_return(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    """The week after the recovery days: short sessions only."""
    for race, dist in race_days(runs, settings).items():
        rest = recovery_for(dist)
        if rest < (day - race).days <= rest + BACK_DAYS:
            return True
    return False


def experience(settings: PlanSettings) -> str:
    """A beginner is dosed as experienced after 16 completed sessions."""
    return "experienced" if settings.completed_sessions >= 16 else settings.experience


def target_for(monday: date, settings: PlanSettings) -> int:
    target = settings.max_sessions
    if experience(settings) != "experienced":
        target = min(target, max(2, settings.min_sessions))
    for race in settings.races:
        if race.priority in "AB" and any(
            0 <= (race.day - (monday + timedelta(days=i))).days <= 13 for i in range(7)
        ):
            target = 1
    return min(target, settings.max_sessions)


def forbidden(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    """No session of any kind: race day, the day before a race, a long-run day, a day out of the
    runner's strength days, race recovery."""
    if day.weekday() not in settings.available_days:
        return True
    races = race_days(runs, settings)
    if day in races or day + timedelta(days=1) in races or in_recovery(day, runs, settings):
        return True
    return any(r.day == day and (r.label is Label.LONG or r.race) for r in runs)


def before_key(day: date, runs: Sequence[DayRun]) -> bool:
    return any(r.day == day + timedelta(days=1) and (r.hard or r.label is Label.LONG or r.race) for r in runs)


def hard_day(day: date, runs: Sequence[DayRun]) -> bool:
    return any(r.day == day and r.hard for r in runs)


def full_allowed(day: date, runs: Sequence[DayRun], settings: PlanSettings, *, fallback: bool = True) -> bool:
    """A hard-run day only as the fallback, and only when the runner turned hard days hard on."""
    if forbidden(day, runs, settings) or before_key(day, runs):
        return False
    return not hard_day(day, runs) or (settings.hard_days_hard and fallback)


def light_allowed(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    if not settings.light_day_before or forbidden(day, runs, settings):
        return False
    return not any(r.day == day and (r.hard or r.label is Label.LONG) for r in runs)


def earliest_start(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> datetime | None:
    """Rest day: the strength time. Run day: right after the last run (or the gap later; 4 h after
    a hard run unless asked for right after); a run without a time ends by noon."""
    on_day = [r for r in runs if r.day == day]
    start = datetime.combine(day, settings.strength_time if not on_day else time(0, 0))
    for run in on_day:
        gap = settings.gap_after_run_hours
        if run.hard and not settings.hard_day_right_after:
            gap = max(gap, 4.0)
        if run.end is None:
            end = max(
                datetime.combine(day, settings.strength_time),
                datetime.combine(day, time(12, 0)) + timedelta(hours=gap),
            )
        elif run.end >= time(23, 59):
            return None
        else:
            end = datetime.combine(day, run.end) + timedelta(hours=gap)
        start = max(start, end)
    if start.date() != day or start.time() > settings.latest_start:
        return None
    return start.replace(tzinfo=settings.zone)


def check_session_rules(session: StrengthSession, runs: Sequence[DayRun], settings: PlanSettings) -> None:
    day = day_of(session, settings)
    assert not forbidden(day, runs, settings), f"session on a forbidden day {day}: {session.why}"
    if session.kind == "full":
        assert full_allowed(day, runs, settings), f"full session not allowed on {day}: {session.why}"
        if hard_day(day, runs):
            assert settings.hard_days_hard and "(hard days hard)" in session.why, session.why
    else:
        assert light_allowed(day, runs, settings), f"light session not allowed on {day}: {session.why}"
    earliest = earliest_start(day, runs, settings)
    assert earliest is not None, f"no time left on {day} for {session.uid}"
    assert session.start >= earliest, f"{session.start} before {earliest} on {day}"
    assert session.start.time() <= settings.latest_start


def check_content(session: StrengthSession, settings: PlanSettings, runs: Sequence[DayRun] = ()) -> None:
    day = day_of(session, settings)
    names = {e.name for e in session.exercises}
    groups = {e.group for e in session.exercises}
    owned = set(settings.equipment) | {"bodyweight"}
    if experience(settings) != "experienced":
        owned &= {"bodyweight", "bands"}
        assert "plyometrics" not in groups
    assert all(e.equipment in owned for e in session.exercises), session.exercises
    a_race_near = any(r.priority == "A" and 0 <= (r.day - day).days <= 14 for r in settings.races)
    returning = in_return(day, runs, settings)
    if a_race_near or returning:
        assert not HEAVY_NAMES.intersection(names), session.exercises
    if returning:
        assert not PLYO_NAMES.intersection(names) and "plyometrics" not in groups, session.exercises
    tapering = any(0 <= (r.day - day).days <= 13 for r in settings.races)
    short = "Short session" in session.why or "Learning the movements" in session.why
    if session.kind == "full":
        assert set(GROUPS) <= groups, groups
        assert any(e.per_side for e in session.exercises), "no single-leg work"
        assert session.duration_min <= 40
        if not tapering and not short:
            assert session.duration_min >= 25, session.duration_min
    else:
        assert groups <= {"core", "glutes"}
        assert session.duration_min <= 20
    assert session.end - session.start == timedelta(minutes=session.duration_min)


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


def on_break(runs: Sequence[DayRun], today: date) -> bool:
    done = [r.day for r in runs if not r.expected and r.day < today]
    return bool(done) and (today - max(done)).days > 7


def check_counts(
    result: PlanResult,
    runs: Sequence[DayRun],
    done_days: Sequence[date],
    settings: PlanSettings,
    now: datetime,
    horizon_days: int = 14,
) -> int:
    """Per week, in a plan made from nothing: as many full sessions on rest, cross-training and
    easy days as the target and the legal days allow; hard-run days only to reach the minimum;
    light ones only with the opt-in. Returns the number of weeks checked."""
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
        if on_break(runs, today):
            target = min(target, 1)
        need = max(0, target - len(done_here))
        occupied = sorted(set(done_days) | set(earlier))

        def startable(day: date) -> bool:
            start = earliest_start(day, runs, settings)
            return start is not None and start > local_now

        regular_days = [d for d in days if full_allowed(d, runs, settings, fallback=False) and startable(d)]
        fulls = [s for s in in_week if s.kind == "full"]
        regular = [s for s in fulls if day_of(s, settings) in regular_days]
        lights = [s for s in in_week if s.kind == "light"]
        expected = max_legal(regular_days, occupied, settings.min_gap_days, need)
        assert len(regular) == expected, (monday, len(regular), expected, [s.why for s in in_week])
        wanted = min(settings.min_sessions, target)
        if len(fulls) > len(regular):  # hard days hard, only to reach the minimum
            assert len(done_here) + len(fulls) <= wanted, [s.why for s in in_week]
        if lights:
            assert len(done_here) + len(fulls) + len(lights) <= wanted
        weeks += 1
    return weeks
