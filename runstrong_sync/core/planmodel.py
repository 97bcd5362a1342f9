"""The planner's vocabulary: the runs it plans around (DayRun), races and a training plan's events,
the runner's settings, and what a planning run returns: the sessions with a note per day and per
week, each note typed (DayReason, WeekNoteKind) so the terminal, the week page and the feed can say
it their own way. ``plan.py`` names all of these as before. Pure: no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from runstrong_sync.core.domain import Label, StrengthSession

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LATEST_START = time(21, 0)  # the default latest start, before anything is learned


class DayReason(enum.StrEnum):
    """Why a day has no session."""

    RACE_DAY = "race_day"
    BEFORE_RACE = "before_race"
    NOT_STRENGTH_DAY = "not_strength_day"
    RACE_RECOVERY = "race_recovery"
    PAUSED = "paused"
    LONG_DAY = "long_day"
    HARD_DAY = "hard_day"
    BEFORE_KEY = "before_key"
    NO_TIME = "no_time"
    PAST = "past"
    DONE = "done"
    TOO_CLOSE = "too_close"
    RECOVERY = "recovery"


class WeekNoteKind(enum.StrEnum):
    TAPER = "taper"
    HARD_DAY_FALLBACK = "hard_day_fallback"
    LIGHT_FALLBACK = "light_fallback"
    FEWER = "fewer"
    RACE_RECOVERY = "race_recovery"
    BREAK = "break"
    RETURN = "return"
    FORM = "form"
    MISSED_MOVED = "missed_moved"
    MISSED_DROPPED = "missed_dropped"


@dataclass(frozen=True, slots=True)
class DayNote:
    reason: DayReason
    text: str

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason.value, "text": self.text}


@dataclass(frozen=True, slots=True)
class WeekNote:
    kind: WeekNoteKind
    text: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "text": self.text}


@dataclass(frozen=True, slots=True)
class DayRun:
    """A run on a day: done (from an activity) or expected (from the pattern or a plan's feed)."""

    day: date
    label: Label
    hard: bool  # counts as hard for placement (hard, race, or an uncertain label)
    end: time | None = None  # local end time, when known (23:59 for a run that ends after midnight)
    expected: bool = False
    title: str = ""
    source: str = "done"  # done, pattern (the runner's usual week) or plan (a training plan's feed)
    race: bool = False  # a race: Strava's race mark, a race effort, or a race in the plan's calendar
    distance_m: float | None = None

    @property
    def key(self) -> bool:
        return self.hard or self.label is Label.LONG or self.race

    @property
    def kind(self) -> str:
        if self.race:
            return "race"
        return "long run" if self.label is Label.LONG else "hard run" if self.hard else "easy run"


@dataclass(frozen=True, slots=True)
class Race:
    day: date
    priority: str  # A, B, C
    name: str
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class PlannedEvent:
    """One event of a training plan's calendar, in the athlete's local time."""

    start: datetime | date
    end: datetime | date | None
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class PlanSettings:
    zone: tzinfo
    athlete_key: str = "default"
    min_sessions: int = 2
    max_sessions: int = 3
    min_hours_between: int = 48
    gap_after_run_hours: float = 0.0  # 0: right after the run; 6: the separation some prefer
    hard_days_hard: bool = False
    hard_day_right_after: bool = False  # on a hard-run day, right after the run instead of 4 h later
    light_day_before: bool = False  # opt-in: a short core session on the day before a key run
    stable_hours: int = 48
    available_days: frozenset[int] = frozenset(range(7))  # 0 = Monday
    strength_time: time = time(18, 30)
    latest_start: time = LATEST_START
    experience: str = "beginner"
    equipment: tuple[str, ...] = ("bodyweight",)
    races: tuple[Race, ...] = ()
    paused_from: date | None = None
    paused_until: date | None = None  # None with paused_from set: until resumed
    block_anchor: date | None = None  # Monday of the runner's first planned week
    completed_sessions: int = 0

    @property
    def min_gap_days(self) -> int:
        return max(1, -(-self.min_hours_between // 24))

    def paused_on(self, day: date) -> bool:
        if self.paused_from is None or day < self.paused_from:
            return False
        return self.paused_until is None or day <= self.paused_until


@dataclass(slots=True)
class PlanResult:
    sessions: list[StrengthSession]
    day_notes: dict[date, DayNote] = field(default_factory=dict)  # why a day has no session
    weeks: dict[date, list[WeekNote]] = field(default_factory=dict)  # keyed by the week's Monday

    @property
    def notes(self) -> dict[date, str]:
        return {day: note.text for day, note in self.day_notes.items()}

    @property
    def week_notes(self) -> dict[date, str]:
        return {monday: " ".join(n.text for n in notes) for monday, notes in self.weeks.items() if notes}

    def notes_json(self) -> dict[str, Any]:
        """Stored beside the plan: the texts (as the views read them) and the typed notes."""
        return {
            "days": {d.isoformat(): n.text for d, n in sorted(self.day_notes.items())},
            "weeks": {d.isoformat(): n for d, n in sorted(self.week_notes.items())},
            "typed": {
                "days": {d.isoformat(): n.to_json() for d, n in sorted(self.day_notes.items())},
                "weeks": {d.isoformat(): [n.to_json() for n in ns] for d, ns in sorted(self.weeks.items())},
            },
        }


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())
