"""The planner's hard rules on generated weeks, and one reference week written out by hand."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from runstrong_sync.domain import Label
from runstrong_sync.plan import DayRun, PlanSettings, plan

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=ZONE)
SETTINGS = PlanSettings(zone=ZONE)


def _check_rules(runs: list[DayRun], result_days: list[date]) -> None:
    key_days = {r.day for r in runs if r.key}
    for day in result_days:
        assert day not in key_days, f"session on key day {day}"
        assert day + timedelta(days=1) not in key_days, f"session the day before a key run {day}"
    for a, b in itertools.pairwise(result_days):
        assert (b - a).days >= 2, f"sessions less than 48 h apart: {a} {b}"


labels = st.sampled_from([None, Label.EASY, Label.HARD, Label.LONG])


@settings(max_examples=300, deadline=None)
@given(st.lists(labels, min_size=14, max_size=14))
def test_rules_hold_on_random_fortnights(week: list[Label | None]) -> None:
    runs = [
        DayRun(MONDAY + timedelta(days=i), label, hard=label is Label.HARD)
        for i, label in enumerate(week)
        if label is not None
    ]
    result = plan(now=NOW, runs=runs, strength_days=[], previous=[], settings=SETTINGS)
    full_days = sorted(s.start.date() for s in result.sessions if s.kind == "full")
    _check_rules(runs, full_days)
    again = plan(now=NOW, runs=runs, strength_days=[], previous=result.sessions, settings=SETTINGS)
    assert [(s.uid, s.sequence, s.start) for s in again.sessions] == [
        (s.uid, s.sequence, s.start) for s in result.sessions
    ]


def test_reference_week_intervals_tuesday_tempo_thursday_long_sunday() -> None:
    days = {1: Label.HARD, 3: Label.HARD, 6: Label.LONG, 2: Label.EASY, 4: Label.EASY}
    runs = [DayRun(MONDAY + timedelta(days=d), label, hard=label is Label.HARD) for d, label in days.items()]
    result = plan(now=NOW, runs=runs, strength_days=[], previous=[], settings=SETTINGS, horizon_days=7)
    placed = {s.start.date().weekday(): s.kind for s in result.sessions}
    # Monday is the day before Tuesday's intervals, Wednesday before Thursday's tempo, Saturday before
    # Sunday's long run: only Friday (after an easy run, the day after the tempo) is legal for a full
    # session. A light core-and-hip session takes Monday to reach two.
    assert placed == {0: "light", 4: "full"}
    assert result.week_notes
