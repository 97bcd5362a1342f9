"""A fortnight at a glance: this week and next, the last four weeks' load, and sync health.

The same model feeds the terminal view (`runstrong-sync week`) and the status page. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from runstrong_sync.core.domain import Label, LabelledActivity, StrengthSession

WEEKDAY_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
LOAD_WEEKS = 4


@dataclass(frozen=True, slots=True)
class RunBlock:
    """A run done (with its label and reason) or expected (from the runner's pattern or plan)."""

    day: date
    label: Label
    reason: str
    start: time | None = None
    sport: str = "run"
    minutes: int | None = None
    km: float | None = None
    confidence: float | None = None
    uncertain: bool = False
    expected: bool = False
    title: str = ""

    @property
    def headline(self) -> str:
        if self.expected:
            return f"{self.label.value} run expected" + (f" ({self.title})" if self.title else "")
        parts = [self.sport.replace("_", " ")] if self.label is Label.OTHER else []
        if self.minutes is not None:
            parts.append(f"{self.minutes} min")
        if self.km:
            parts.append(f"{self.km:.1f} km")
        return " · ".join(parts) or self.sport.replace("_", " ")


@dataclass(frozen=True, slots=True)
class DayView:
    day: date
    is_today: bool
    runs: tuple[RunBlock, ...]
    sessions: tuple[StrengthSession, ...]
    note: str | None  # why there is no session

    @property
    def name(self) -> str:
        return WEEKDAY_SHORT[self.day.weekday()]


@dataclass(frozen=True, slots=True)
class WeekLoad:
    monday: date
    easy_min: int
    hard_min: int
    long_min: int
    other_min: int

    @property
    def running_min(self) -> int:
        return self.easy_min + self.hard_min + self.long_min


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    message: str
    last_success: datetime | None = None


@dataclass(frozen=True, slots=True)
class WeekView:
    athlete: str
    today: date
    days: tuple[DayView, ...]  # Monday of this week .. Sunday of next week
    load: tuple[WeekLoad, ...]  # oldest first, ending with this week
    health: Health
    week_notes: tuple[tuple[date, str], ...] = ()  # (Monday of the week, note)

    @property
    def weeks(self) -> tuple[tuple[DayView, ...], tuple[DayView, ...]]:
        return self.days[:7], self.days[7:]

    def notes_for(self, week: Sequence[DayView]) -> list[str]:
        """The planner's notes on the week that starts with ``week[0]``."""
        return [note for monday, note in self.week_notes if monday == week[0].day]


def build_week_view(
    *,
    athlete: str,
    today: date,
    activities: Sequence[LabelledActivity],
    sessions: Sequence[StrengthSession],
    expected_runs: Sequence[Mapping[str, Any]] = (),
    day_notes: Mapping[str, str] | None = None,
    week_notes: Mapping[str, str] | None = None,
    health: Health | None = None,
) -> WeekView:
    monday = today - timedelta(days=today.weekday())
    days_shown = [monday + timedelta(days=i) for i in range(14)]
    done = [_block(item) for item in activities]
    expected = [
        RunBlock(
            day=date.fromisoformat(run["day"]),
            label=Label(run["label"]),
            reason=run.get("title") or "expected from your weekly pattern",
            expected=True,
            title=run.get("title", ""),
        )
        for run in expected_runs
        if run.get("expected")
    ]
    day_notes = day_notes or {}
    days = []
    for day in days_shown:
        runs = [b for b in done if b.day == day]
        if not runs and day >= today:
            runs = [b for b in expected if b.day == day]
        runs.sort(key=lambda b: (b.start or time(0), b.label.value))
        day_sessions = tuple(sorted((s for s in sessions if s.start.date() == day), key=lambda s: s.start))
        days.append(
            DayView(
                day=day,
                is_today=day == today,
                runs=tuple(runs),
                sessions=day_sessions,
                note=None if day_sessions else day_notes.get(day.isoformat()),
            )
        )
    notes = tuple(
        (date.fromisoformat(key), note)
        for key, note in sorted((week_notes or {}).items())
        if monday <= date.fromisoformat(key) <= days_shown[-1]
    )
    return WeekView(
        athlete=athlete,
        today=today,
        days=tuple(days),
        load=weekly_load(activities, monday),
        health=health or Health(ok=False, message="No sync has been recorded yet."),
        week_notes=notes,
    )


def weekly_load(activities: Sequence[LabelledActivity], this_monday: date) -> tuple[WeekLoad, ...]:
    """Minutes of easy, hard and long running (and other sports) per week, last four weeks."""
    weeks = []
    for back in range(LOAD_WEEKS - 1, -1, -1):
        monday = this_monday - timedelta(weeks=back)
        minutes = {label: 0.0 for label in Label}
        for item in activities:
            if monday <= item.activity.local_date < monday + timedelta(days=7):
                minutes[item.classification.label] += item.activity.moving_s / 60
        weeks.append(
            WeekLoad(
                monday=monday,
                easy_min=round(minutes[Label.EASY]),
                hard_min=round(minutes[Label.HARD]),
                long_min=round(minutes[Label.LONG]),
                other_min=round(minutes[Label.OTHER]),
            )
        )
    return tuple(weeks)


def _block(item: LabelledActivity) -> RunBlock:
    a, c = item.activity, item.classification
    return RunBlock(
        day=a.local_date,
        label=c.label,
        reason=c.reasons[0].text if c.reasons else "",
        start=a.start_local.time().replace(second=0, microsecond=0),
        sport=a.sport,
        minutes=round(a.moving_s / 60),
        km=a.distance_m / 1000 if a.distance_m else None,
        confidence=c.confidence,
        uncertain=c.uncertain,
    )
