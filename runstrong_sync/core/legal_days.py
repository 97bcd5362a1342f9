"""What each day allows: no session on the day of, or the day before, a hard run, a long run or a
race; hard-run days only as a fallback, after the run; the earliest start after a run; the windows
with their own rules (recovery after a race by its distance, the return week after it, the return
block after a break of 7+ days, a pause); per week the number of sessions wanted, lowered by a
taper before a race; and the dose level (a beginner counts as experienced after enough sessions).
``plan.py`` places sessions on the days found here. Pure: no I/O.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from runstrong_sync.core.domain import Label
from runstrong_sync.core.expected_runs import BREAK_DAYS, last_run_before, on_break
from runstrong_sync.core.planmodel import (
    DayNote,
    DayReason,
    DayRun,
    PlanSettings,
    Race,
)

HARD_DAY_MIN_GAP_HOURS = 4.0  # Pendola 4-8 h, Gaudette: strength after the hard run, same day
ASSUMED_RUN_END = time(12, 0)  # a planned run whose time is unknown is taken to end by noon
RETURN_DAYS = 14  # the short return block after a break
SESSIONS_TO_ADVANCE = 16  # completed sessions before a beginner is dosed as experienced
# Taper (Pendola): strength volume two weeks out / in race week, and sessions per week.
TAPER_VOLUME = {"A": (0.5, 0.25), "B": (0.5, 0.5), "C": (0.75, 0.75)}
TAPER_SESSIONS = {"A": 1, "B": 1}
HEAVY_FREE_DAYS = 14  # no heavy lower-body work in the last 10-14 days before an A race
# Recovery after a race, by distance (metres up to, days without strength): 5 K 2-3, 10 K 4-5,
# half 7, marathon or longer 10-14 ("one easy day per mile", Foster; Pfitzinger's reverse taper).
RECOVERY_DAYS: tuple[tuple[float, int], ...] = ((6_000, 3), (12_000, 5), (25_000, 7), (38_000, 10))
RECOVERY_DAYS_LONGEST = 14
RETURN_AFTER_RACE_DAYS = 7  # the first week back: short sessions, no plyometrics or heavy legs


@dataclass(frozen=True, slots=True)
class Window:
    """Days with their own rules: no strength after a race, a return block, maintenance."""

    first: date
    last: date
    text: str

    def holds(self, day: date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True, slots=True)
class _Day:
    """What the rules say about one day."""

    day: date
    runs: tuple[DayRun, ...]
    block: DayNote | None  # why no session may go here (None: one may)
    fallback: bool  # a hard-run day: only when the better days cannot hold the minimum
    light_ok: bool  # the opt-in short core session may go here
    start: time | None  # the earliest start allowed (None: no time left that day)
    score: int


def recovery_days(distance_m: float | None, name: str = "") -> int:
    """Days without strength after a race of this distance (a guess from the name when unknown)."""
    if distance_m is None:
        distance_m = _distance_from_name(name)
    for up_to, days in RECOVERY_DAYS:
        if distance_m <= up_to:
            return days
    return RECOVERY_DAYS_LONGEST


def _distance_from_name(name: str) -> float:
    lowered = name.lower()
    if "half" in lowered:
        return 21_097.0
    if "marathon" in lowered or "ultra" in lowered:
        return 42_195.0
    if re.search(r"\b10\s?k|10\s?km\b", lowered):
        return 10_000.0
    if re.search(r"\b5\s?k|5\s?km\b|parkrun", lowered):
        return 5_000.0
    return 10_000.0


def _race_days(runs: Sequence[DayRun], settings: PlanSettings) -> dict[date, tuple[str, float | None]]:
    """Every race day: configured races, races in the data and in the plan's calendar."""
    races: dict[date, tuple[str, float | None]] = {}
    for run in runs:
        if run.race:
            races[run.day] = (run.title or "race", run.distance_m)
    for race in sorted(settings.races, key=lambda r: r.priority, reverse=True):
        known = races.get(race.day)
        distance = race.distance_m or (known[1] if known else None)
        races[race.day] = (race.name, distance)  # the highest priority's name wins
    return races


def _race_windows(races: dict[date, tuple[str, float | None]]) -> tuple[list[Window], list[Window]]:
    """(no strength, short sessions back) after each race."""
    rest: list[Window] = []
    back: list[Window] = []
    for day, (name, distance) in sorted(races.items()):
        days = recovery_days(distance, name)
        rest.append(Window(day + timedelta(days=1), day + timedelta(days=days), f"recovery after {name}"))
        first_back = day + timedelta(days=days + 1)
        back.append(
            Window(first_back, first_back + timedelta(days=RETURN_AFTER_RACE_DAYS - 1), f"back after {name}")
        )
    return rest, back


def _break_windows(
    runs: Sequence[DayRun], settings: PlanSettings, today: date
) -> tuple[list[Window], list[Window]]:
    """(maintenance, return block): a current break or pause, and the weeks after one."""
    done = sorted({r.day for r in runs if not r.expected})
    maintenance: list[Window] = []
    back: list[Window] = []
    for before, after in itertools.pairwise(done):
        if (after - before).days > BREAK_DAYS:
            back.append(Window(after, after + timedelta(days=RETURN_DAYS - 1), "back from a break"))
    far = date.max - timedelta(days=400)
    if on_break(runs, today):
        last = last_run_before(runs, today) or today
        maintenance.append(Window(last + timedelta(days=BREAK_DAYS + 1), far, f"no runs since {last}"))
    if settings.paused_from is not None:
        until = settings.paused_until or far
        maintenance.append(Window(settings.paused_from, until, "paused"))
        if settings.paused_until is not None:
            first = settings.paused_until + timedelta(days=1)
            back.append(Window(first, first + timedelta(days=RETURN_DAYS - 1), "back from a pause"))
    return maintenance, back


class Calendar:
    """The runs, races and windows the rules read, and each day's verdict (cached)."""

    def __init__(self, runs: Sequence[DayRun], settings: PlanSettings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.runs = list(runs)
        self.by_day: dict[date, tuple[DayRun, ...]] = {}
        for run in runs:
            self.by_day[run.day] = (*self.by_day.get(run.day, ()), run)
        self.races = _race_days(runs, settings)
        self.recovery, self.race_back = _race_windows(self.races)
        self.maintenance, self.break_back = _break_windows(runs, settings, now.date())
        self._cache: dict[date, _Day] = {}

    def runs_on(self, day: date) -> tuple[DayRun, ...]:
        return self.by_day.get(day, ())

    def window(self, windows: Sequence[Window], day: date) -> Window | None:
        return next((w for w in windows if w.holds(day)), None)

    def info(self, day: date) -> _Day:
        if day not in self._cache:
            self._cache[day] = self._assess(day)
        return self._cache[day]

    def _calendar_block(self, day: date) -> DayNote | None:
        """Blocks that do not depend on the day's runs."""
        race = self.races.get(day)
        if race is not None:
            return DayNote(DayReason.RACE_DAY, f"race day ({race[0]})")
        race_next = self.races.get(day + timedelta(days=1))
        if race_next is not None:
            return DayNote(DayReason.BEFORE_RACE, f"the day before a race ({race_next[0]})")
        if day.weekday() not in self.settings.available_days:
            return DayNote(DayReason.NOT_STRENGTH_DAY, "not one of your strength days")
        recovering = self.window(self.recovery, day)
        if recovering is not None:
            return DayNote(DayReason.RACE_RECOVERY, f"{recovering.text}: no strength work yet")
        return None

    def _run_block(self, day: date) -> DayNote | None:
        for run in self.runs_on(day):
            if run.label is Label.LONG:
                return DayNote(DayReason.LONG_DAY, f"long-run day{describe_run(run)}")
        for run in self.runs_on(day + timedelta(days=1)):
            if run.key:
                return DayNote(DayReason.BEFORE_KEY, f"the day before a {run.kind}{describe_run(run)}")
        return None

    def _assess(self, day: date) -> _Day:
        same = self.runs_on(day)
        block = self._calendar_block(day) or self._run_block(day)
        hard = next((r for r in same if r.hard), None)
        fallback = hard is not None
        start = _start_time(day, same, self.settings)
        light_ok = (
            self.settings.light_day_before
            and block is not None
            and block.reason is DayReason.BEFORE_KEY
            and not any(r.key for r in same)
        )
        if block is None and hard is not None and not self.settings.hard_days_hard:
            block = self.hard_day_note(day)  # the runner's rule, not the clock, keeps this day free
        if block is None and start is None:
            block = DayNote(DayReason.NO_TIME, "the run ends too late for strength after it the same day")
        if start is None or self._past(day, start):
            light_ok = False
            block = block or DayNote(DayReason.PAST, "already past")
        score = 3 if not same else 2 if not any(r.key for r in same) else 1
        if any(r.hard for r in self.runs_on(day - timedelta(days=1))):
            score += 1
        return _Day(day, same, block, fallback, light_ok, start, score)

    def _past(self, day: date, start: time) -> bool:
        return day < self.now.date() or datetime.combine(day, start, tzinfo=self.now.tzinfo) <= self.now

    def hard_day_note(self, day: date) -> DayNote:
        run = next(r for r in self.runs_on(day) if r.hard)
        return DayNote(DayReason.HARD_DAY, f"hard-run day{describe_run(run)}")


def describe_run(run: DayRun) -> str:
    if run.source == "plan":
        return f" ({run.title}, from your training plan)" if run.title else " (from your training plan)"
    if run.expected and run.title:
        return f" ({run.title})"
    return ""


def gap_after_run(run: DayRun, settings: PlanSettings) -> float:
    gap = settings.gap_after_run_hours
    if run.hard and not settings.hard_day_right_after:
        gap = max(gap, HARD_DAY_MIN_GAP_HOURS)
    return gap


def _start_time(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> time | None:
    """On a rest day the runner's strength time; on a run day right after the last run (or the gap
    later; a planned run without a time is taken to end by noon). None past the latest start."""
    if not runs:
        start = datetime.combine(day, settings.strength_time)
    else:
        start = datetime.combine(day, time(0, 0))
        for run in runs:
            gap = timedelta(hours=gap_after_run(run, settings))
            if run.end is None:
                earliest = max(
                    datetime.combine(day, settings.strength_time),
                    datetime.combine(day, ASSUMED_RUN_END) + gap,
                )
            elif run.end >= time(23, 59):
                return None  # the run ends at midnight or after it: no time left that day
            else:
                earliest = datetime.combine(day, run.end) + gap
            start = max(start, earliest)
    if start.second or start.microsecond:
        start = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if start.date() != day or start.time() > settings.latest_start:
        return None
    return start.time()


def taper_for(day: date, races: Sequence[Race]) -> tuple[float, Race] | None:
    """(volume factor, race) when a race is 0-13 days after ``day``; the smallest factor wins."""
    best: tuple[float, Race] | None = None
    for race in races:
        days_out = (race.day - day).days
        if not 0 <= days_out <= 13:
            continue
        factor = TAPER_VOLUME[race.priority][1 if days_out <= 6 else 0]
        if best is None or factor < best[0]:
            best = (factor, race)
    return best


def drops_heavy(day: date, races: Sequence[Race]) -> bool:
    return any(r.priority == "A" and 0 <= (r.day - day).days <= HEAVY_FREE_DAYS for r in races)


def week_target(monday: date, settings: PlanSettings) -> tuple[int, str | None]:
    """Sessions wanted this week, and the taper note when a race lowers it."""
    target = settings.max_sessions
    if experience_level(settings) != "experienced":
        target = min(target, max(2, settings.min_sessions))
    note = None
    for race in sorted(settings.races, key=lambda r: (r.day, r.priority)):
        first_day = race.day - timedelta(days=13)
        if race.day < monday or first_day > monday + timedelta(days=6):
            continue
        sessions = TAPER_SESSIONS.get(race.priority)
        if sessions is not None:
            target = min(target, sessions)
        heavy = " and no heavy leg work" if race.priority == "A" else ""
        volume = " / ".join(f"x{f}" for f in dict.fromkeys(TAPER_VOLUME[race.priority]))
        note = (
            f"Taper for {race.name} ({race.priority} race, {race.day.isoformat()}): "
            f"{target} session(s) this week, strength volume {volume}{heavy}."
        )
    return target, note


def experience_level(settings: PlanSettings) -> str:
    """A beginner is dosed as experienced after enough completed sessions."""
    if settings.experience == "beginner" and settings.completed_sessions >= SESSIONS_TO_ADVANCE:
        return "experienced"
    return settings.experience
