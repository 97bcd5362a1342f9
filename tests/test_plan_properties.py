"""The planner's rules over generated histories, plans and settings (at least 10,000 weeks).

Derandomized, so CI sees the same examples on every run; each example plans 3 to 5 weeks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runstrong_sync.core.domain import Label, SessionStatus, StrengthSession
from runstrong_sync.core.plan import DayRun, PlanResult, PlanSettings, Race, plan, week_start
from tests.plan_rules import (
    check_content,
    check_counts,
    check_session_rules,
    check_spacing,
    day_of,
)

ZONES = [ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("UTC")]
BASE = date(2026, 3, 2)  # a Monday; the weeks span the spring clock change in Berlin and New York
EXAMPLES = 2700  # x 3 to 5 planned weeks each >= 10,000 weeks
WEEKS_CHECKED = [0]


@dataclass(frozen=True)
class Scenario:
    now: datetime
    runs: list[DayRun]
    done_days: list[date]
    settings: PlanSettings
    horizon_days: int = 28


KINDS = (None, None, Label.EASY, Label.EASY, Label.HARD, Label.LONG, "uncertain")


def scenario_from(seed: int) -> Scenario:
    """One generated situation: three to four weeks of runs around today, strength already done,
    perhaps a race, and any settings the configuration allows. Hypothesis draws the seed (cheap
    to generate, derandomized in CI); the seed draws the rest."""
    rng = random.Random(seed)
    zone = rng.choice(ZONES)
    monday = BASE + timedelta(weeks=rng.randrange(41))
    today = monday + timedelta(days=rng.randrange(7))
    now = datetime.combine(today, time(rng.randrange(24), rng.choice([0, 30])), tzinfo=zone)
    runs: list[DayRun] = []
    for offset in range(-7, 42):
        day = monday + timedelta(days=offset)
        kind = rng.choice(KINDS)
        if kind is None:
            continue
        end = None if rng.random() < 0.3 else time(rng.randrange(5, 24), rng.choice([0, 15, 30, 45, 59]))
        label = Label.EASY if kind == "uncertain" else kind
        hard = kind in (Label.HARD, "uncertain")
        runs.append(DayRun(day, label, hard=hard, end=end, expected=day >= today, source="plan"))
    past_days = [monday + timedelta(days=i) for i in range(-7, (today - monday).days + 1)]
    done_days = sorted(rng.sample(past_days, rng.randrange(min(3, len(past_days)) + 1)))
    races: tuple[Race, ...] = ()
    if rng.random() < 0.4:
        race_day = today + timedelta(days=rng.randrange(-20, 40))
        distance = rng.choice([None, 5_000.0, 10_000.0, 21_097.0, 42_195.0])
        races = (Race(race_day, rng.choice("ABC"), "Test race", distance),)
        runs = [r for r in runs if r.day != race_day] + [DayRun(race_day, Label.HARD, hard=True)]
    if rng.random() < 0.2:  # a race found in the data or the plan's calendar, not configured
        race_day = today + timedelta(days=rng.randrange(-20, 20))
        distance = rng.choice([5_000.0, 10_000.0, 21_097.0, 42_195.0])
        found = DayRun(race_day, Label.HARD, hard=True, race=True, distance_m=distance)
        runs = [r for r in runs if r.day != race_day] + [replace(found, expected=race_day >= today)]
    low = rng.randrange(4)
    high = rng.randint(max(1, low), 4)
    available = frozenset(rng.sample(range(7), rng.randint(1, 7)))
    extra = sorted(x for x in ("bands", "dumbbells", "kettlebells") if rng.random() < 0.5)
    settings_ = PlanSettings(
        zone=zone,
        min_sessions=low,
        max_sessions=high,
        min_hours_between=rng.choice([48, 48, 72]),
        gap_after_run_hours=rng.choice([0.0, 0.0, 2.0, 6.0]),
        hard_days_hard=rng.random() < 0.3,
        hard_day_right_after=rng.random() < 0.2,
        light_day_before=rng.random() < 0.2,
        latest_start=rng.choice([time(21, 0), time(21, 0), time(21, 30), time(22, 30)]),
        block_anchor=rng.choice([None, monday - timedelta(weeks=rng.randrange(12))]),
        completed_sessions=rng.choice([0, 0, 20]),
        stable_hours=rng.choice([0, 24, 48]),
        available_days=available,
        strength_time=rng.choice([time(6, 30), time(12, 0), time(18, 30)]),
        experience=rng.choice(["beginner", "experienced"]),
        equipment=("bodyweight", *extra),
        races=races,
    )
    return Scenario(now, sorted(runs, key=lambda r: r.day), done_days, settings_, rng.choice([14, 28]))


def _plan(s: Scenario, previous: list[StrengthSession], now: datetime | None = None) -> PlanResult:
    return plan(
        now=now or s.now,
        runs=s.runs,
        strength_days=s.done_days,
        previous=previous,
        settings=s.settings,
        horizon_days=s.horizon_days,
    )


def _snapshot(sessions: list[StrengthSession]) -> list[tuple[object, ...]]:
    return [
        (x.uid, x.sequence, x.start, x.duration_min, x.focus, x.exercises, x.why, x.kind, x.status)
        for x in sessions
    ]


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.integers(0, 2**32 - 1))
def _rules_hold(seed: int) -> None:
    s = scenario_from(seed)
    rng = random.Random(seed + 1)
    later_hours = rng.randint(1, 80)
    result = _plan(s, [])
    # The rules, the content and the counts, on a plan made from nothing.
    for session in result.sessions:
        check_session_rules(session, s.runs, s.settings)
        check_content(session, s.settings, s.runs)
        assert session.start > s.now
        assert session.sequence == 0
    check_spacing([day_of(x, s.settings) for x in result.sessions], s.done_days, s.settings)
    WEEKS_CHECKED[0] += check_counts(result, s.runs, s.done_days, s.settings, s.now, s.horizon_days)
    assert len({x.uid for x in result.sessions}) == len(result.sessions)

    # Deterministic, and calm: re-planning with nothing new changes nothing.
    assert _snapshot(_plan(s, []).sessions) == _snapshot(result.sessions)
    again = _plan(s, result.sessions)
    assert _snapshot(again.sessions) == _snapshot(result.sessions)
    assert [x.changed_at for x in again.sessions] == [x.changed_at for x in result.sessions]

    # Later, with one upcoming run changed: past sessions stay, sessions in the stable window stay
    # unless a rule broke, SEQUENCE never falls, and every session that moved obeys the rules.
    later = s.now + timedelta(hours=later_hours)
    future = [r for r in s.runs if r.day > later.astimezone(s.settings.zone).date() and r.source == "plan"]
    runs = list(s.runs)
    if future:
        target = rng.choice(future)
        new_label = rng.choice([Label.EASY, Label.HARD, Label.LONG])
        runs[runs.index(target)] = replace(target, label=new_label, hard=new_label is Label.HARD)
    changed = Scenario(s.now, runs, s.done_days, s.settings, s.horizon_days)
    replanned = _plan(changed, result.sessions, later)
    before = {x.uid: x for x in result.sessions}
    stable_until = later + timedelta(hours=s.settings.stable_hours)
    for session in replanned.sessions:
        old = before.get(session.uid)
        if old is not None:
            assert session.sequence >= old.sequence
            timed_out = session.status is SessionStatus.MISSED and old.status is SessionStatus.PLANNED
            if old.same_content(replace(session, status=old.status) if timed_out else session):
                # Time passing alone (planned -> missed) is no change: SEQUENCE stays.
                assert session.sequence == old.sequence
            else:
                assert session.sequence == old.sequence + 1
            if old.start < later and session.start != old.start:
                # A missed session moves to a later legal day of its week, and says so.
                assert old.end < later and session.start > later, (old.start, session.start)
                assert week_start(day_of(session, s.settings)) == week_start(day_of(old, s.settings))
                assert ": missed." in session.why, session.why
            elif old.start < later:
                assert session.exercises == old.exercises
                continue
        if session.start < stable_until and old is not None and session.start != old.start:
            # It moved inside the window: only because its old day broke a rule.
            assert "Moved from" in session.why
        check_session_rules(session, runs, s.settings)
    # A missed session was not done: it loads nothing, and keeps no other away.
    kept = [day_of(x, s.settings) for x in replanned.sessions if x.status is not SessionStatus.MISSED]
    check_spacing(kept, s.done_days, s.settings)


def test_rules_hold_over_ten_thousand_generated_weeks() -> None:
    WEEKS_CHECKED[0] = 0
    _rules_hold()
    assert WEEKS_CHECKED[0] >= 10_000, WEEKS_CHECKED[0]
