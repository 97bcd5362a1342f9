"""Place strength sessions in the weeks around today, and keep their identity when they move.

The runner's own rule is absolute (docs: training-rules.md, part b): no session of any kind on the
day of, or the day before, a hard run, a long run or a race. Inside that rule:
  - rest and cross-training days first (+3), then easy-run days (+2), where the session goes right
    after the run (the run is the warm-up) or ``gap_after_run_hours`` later, never after the latest
    time this runner trains (learned from the runs, or set);
  - when those days cannot hold ``min_sessions`` and the runner turned ``hard_days_hard`` on, a
    hard-run day takes one after the run (at least 4 h later, or right after when asked), never
    when the next day is a key day;
  - only then fewer sessions, said in the week's notes (a light core session on a forbidden day only
    with the explicit ``light_day_before`` opt-in);
  - at least ``min_hours_between`` between sessions (whole days), also against strength work done;
  - after a race no strength for a while by distance, then a short first session without
    plyometrics or heavy leg work; a taper before a configured race;
  - after 7+ days without runs (or while paused) maintenance only, then a short return block;
  - a missed session moves to the next legal day of its week (same UID), else it is dropped and the
    week says so.
Sessions per week: ``max_sessions`` (beginners at most 2); 1 in the last two weeks before an A or B
race. A session keeps its UID when it moves and its SEQUENCE rises on every change the runner can see;
time passing alone never raises it. Pure: the caller passes the runs, the clock and the previous plan.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from runstrong_sync.core.domain import Label, SessionStatus, StrengthSession
from runstrong_sync.core.exercises import (
    DELOAD_WEEK,
    Content,
    build_session,
    session_minutes,
)

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LATEST_START = time(21, 0)  # the default latest start, before anything is learned
LATEST_LEARNED_CAP = time(22, 30)
HARD_DAY_MIN_GAP_HOURS = 4.0  # Pendola 4-8 h, Gaudette: strength after the hard run, same day
ASSUMED_RUN_END = time(12, 0)  # a planned run whose time is unknown is taken to end by noon
BREAK_DAYS = 7  # no runs this long: the runner is out of the usual pattern
RETURN_DAYS = 14  # the short return block after a break
FORM_WEEKS = 2  # a beginner's first weeks teach the movements
SESSIONS_TO_ADVANCE = 16  # completed sessions before a beginner is dosed as experienced
# Emphasis rotates through the week and from week to week; every session trains all five groups.
EMPHASES: tuple[tuple[str, str], ...] = (
    ("glutes", "hamstrings"),
    ("quads", "calves"),
    ("core", "glutes"),
    ("hamstrings", "quads"),
    ("calves", "core"),
)
LIGHT_FOCUS = ("core", "hips")
MOVED_MARKER = " Moved from "
CHANGED_MARKER = " Changed: "
FORM_MARKER = "Learning the movements"
# Taper (Pendola): strength volume two weeks out / in race week, and sessions per week.
TAPER_VOLUME = {"A": (0.5, 0.25), "B": (0.5, 0.5), "C": (0.75, 0.75)}
TAPER_SESSIONS = {"A": 1, "B": 1}
HEAVY_FREE_DAYS = 14  # no heavy lower-body work in the last 10-14 days before an A race
# Recovery after a race, by distance (metres up to, days without strength): 5 K 2-3, 10 K 4-5,
# half 7, marathon or longer 10-14 ("one easy day per mile", Foster; Pfitzinger's reverse taper).
RECOVERY_DAYS: tuple[tuple[float, int], ...] = ((6_000, 3), (12_000, 5), (25_000, 7), (38_000, 10))
RECOVERY_DAYS_LONGEST = 14
RETURN_AFTER_RACE_DAYS = 7  # the first week back: short sessions, no plyometrics or heavy legs


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


def forecast_end(today: date, horizon_days: int = 14) -> date:
    """The last day a published session can depend on: the day after the last planned week."""
    return week_start(today + timedelta(days=horizon_days - 1)) + timedelta(days=7)


# ---------------------------------------------------------------------------------------------
# Upcoming runs: the runner's own pattern, and a training plan's calendar


def last_run_before(history: Sequence[DayRun], today: date) -> date | None:
    days = [r.day for r in history if not r.expected and r.day < today]
    return max(days) if days else None


def on_break(history: Sequence[DayRun], today: date) -> bool:
    """No run in the last ``BREAK_DAYS`` days (with some history before): out of the usual pattern."""
    last = last_run_before(history, today)
    return last is not None and (today - last).days > BREAK_DAYS


def predict_runs(
    history: Sequence[DayRun], today: date, weeks: int = 6, horizon_days: int = 14
) -> list[DayRun]:
    """Expected runs from the runner's own week over the last ``weeks`` complete weeks.

    A weekday is a key day when a hard or long run fell on it in at least half of the weeks that
    had any run; long when most of those were long. A weekday with any run in half of the weeks
    expects an easy run. The usual end time is the median of those runs'. A long run already done
    this week replaces the week's expected one. Predictions reach the day after the last planned
    week (every day a session depends on); none at all after a break of a week or more.
    """
    if on_break(history, today):
        return []
    this_monday = week_start(today)
    since = this_monday - timedelta(weeks=weeks)
    past = [r for r in history if since <= r.day < this_monday and not r.expected]
    active_weeks = {week_start(r.day) for r in past}
    if len(active_weeks) < 2:
        return []
    done_this_week = [r for r in history if this_monday <= r.day < today and not r.expected]
    last = forecast_end(today, horizon_days)
    predictions: list[DayRun] = []
    for weekday in range(7):
        usual = _usual_run(past, weekday, len(active_weeks))
        if usual is None:
            continue
        label, usual_end = usual
        for offset in range((last - today).days + 1):
            day = today + timedelta(days=offset)
            if day.weekday() != weekday:
                continue
            if label is Label.LONG and any(
                r.label is Label.LONG and week_start(r.day) == week_start(day) for r in done_this_week
            ):
                continue
            kind = {Label.LONG: "long run", Label.HARD: "hard run"}.get(label, "easy run")
            predictions.append(
                DayRun(
                    day,
                    label,
                    hard=label is Label.HARD,
                    end=usual_end,
                    expected=True,
                    title=f"usual {WEEKDAY_NAMES[weekday]} {kind}",
                    source="pattern",
                )
            )
    return predictions


def _usual_run(past: Sequence[DayRun], weekday: int, active: int) -> tuple[Label, time | None] | None:
    on_day = [r for r in past if r.day.weekday() == weekday]
    run_weeks = {week_start(r.day) for r in on_day}
    if len(run_weeks) * 2 < active:
        return None
    key_weeks = {week_start(r.day) for r in on_day if r.key}
    long_weeks = {week_start(r.day) for r in on_day if r.label is Label.LONG}
    if len(key_weeks) * 2 >= active:
        label = Label.LONG if len(long_weeks) * 2 >= len(key_weeks) else Label.HARD
    else:
        label = Label.EASY
    ends = sorted(r.end for r in on_day if r.end is not None and (r.key or label is Label.EASY))
    return label, ends[(len(ends) - 1) // 2] if ends else None


def learned_latest_start(history: Sequence[DayRun], default: time = LATEST_START) -> time:
    """The latest a session may start: 21:00, or later for a runner whose runs end later (the
    third-latest end of the recent runs, so one odd night run does not count), at most 22:30."""
    ends = sorted((r.end for r in history if not r.expected and r.end is not None), reverse=True)
    if len(ends) < 3:
        return default
    learned = ends[2]
    if learned <= default:
        return default
    return min(learned, LATEST_LEARNED_CAP)


# Keywords of training-plan event titles (TrainingPeaks, Runna, Garmin Coach, Final Surge...).
_RUN_WORD = re.compile(r"\b(run|running|jog|laufen|lauf)\b", re.IGNORECASE)
_NOT_RUN = re.compile(
    r"\b(strength|gym|weights?|yoga|pilates|mobility|stretch\w*|rest|day off|off day|swim\w*|bike|"
    r"ride|cycl\w*|cross[- ]?train\w*|elliptical|row\w*|walk\w*)\b",
    re.IGNORECASE,
)
_RACE = re.compile(r"\b(race|parkrun|marathon(?!\s+pace)|10k race|5k race)\b", re.IGNORECASE)
_LONG = re.compile(
    r"\b(long(?!\s+(intervals?|reps?|repeats?|hills?|strides))|lsd)\b|\blong run\b", re.IGNORECASE
)
_HARD = re.compile(
    r"\b(intervals?|tempo|threshold|fartlek|hills?|repeats?|reps|vo2\s?max|vo2|speed|track|"
    r"progression|cruise|race pace|marathon pace|mp|lt|workout|quality|sprints?|yasso\w*)\b"
    r"|\d+\s*[x×]\s*\d+",
    re.IGNORECASE,
)
_EASY = re.compile(
    r"\b(easy|recovery|shake[- ]?out|jog|aerobic|base|conversational|zone 2|z2|strides)\b", re.IGNORECASE
)
LONG_EVENT_MINUTES = 90


def classify_planned_event(title: str, description: str = "", minutes: float | None = None) -> Label | None:
    """Easy, hard or long from a planned event's words; None for events that are not runs.

    Long beats hard (a long run with a fast finish stays long); a race is hard; a run that says
    nothing of its kind is taken as hard, the costlier mistake to get wrong.
    """
    is_run = bool(_RUN_WORD.search(title))
    if not is_run and _NOT_RUN.search(title):
        return None
    for text in (title, description):
        if _RACE.search(text):
            return Label.HARD
        if _LONG.search(text):
            return Label.LONG
        if _HARD.search(text):
            return Label.HARD
        if _EASY.search(text):
            return Label.EASY
    if minutes is not None and minutes >= LONG_EVENT_MINUTES:
        return Label.LONG
    if not is_run and not title.strip():
        return None
    return Label.HARD


def planned_runs(events: Iterable[PlannedEvent], zone: tzinfo) -> list[DayRun]:
    """A training plan's events as expected runs, in the athlete's local days."""
    runs: list[DayRun] = []
    for event in events:
        day, minutes, end_time = _event_times(event, zone)
        label = classify_planned_event(event.title, event.description, minutes)
        if label is None:
            continue
        runs.append(
            DayRun(
                day,
                label,
                hard=label is Label.HARD,
                end=end_time,
                expected=True,
                title=event.title.strip() or "planned run",
                source="plan",
                race=bool(_RACE.search(event.title) or _RACE.search(event.description)),
            )
        )
    return sorted(runs, key=lambda r: (r.day, r.title))


def _event_times(event: PlannedEvent, zone: tzinfo) -> tuple[date, float | None, time | None]:
    """The event's local day, its minutes and its end time (23:59 when it ends after midnight)."""
    if not isinstance(event.start, datetime):
        return event.start, None, None
    start = event.start.astimezone(zone) if event.start.tzinfo else event.start.replace(tzinfo=zone)
    day = start.date()
    if not isinstance(event.end, datetime):
        return day, None, None
    end = event.end.astimezone(zone) if event.end.tzinfo else event.end.replace(tzinfo=zone)
    minutes = (end - start).total_seconds() / 60
    end_time = end.time().replace(second=0, microsecond=0) if end.date() == day else time(23, 59)
    return day, minutes, end_time


def merge_runs(
    done: Iterable[DayRun],
    expected: Iterable[DayRun],
    today: date,
    planned: Iterable[DayRun] = (),
) -> list[DayRun]:
    """What each day holds: done runs first; for days not yet run, the training plan's runs, and
    the runner's usual pattern only outside the days the plan covers."""
    done_list = list(done)
    planned_list = [r for r in planned if r.day >= today]
    done_days = {r.day for r in done_list}
    covered: tuple[date, date] | None = None
    if planned_list:
        covered = (min(r.day for r in planned_list), max(r.day for r in planned_list))
    merged = done_list + [r for r in planned_list if r.day not in done_days]
    for run in expected:
        if run.day < today or run.day in done_days:
            continue
        if covered is not None and covered[0] <= run.day <= covered[1]:
            continue
        merged.append(run)
    return sorted(merged, key=lambda r: (r.day, r.expected, r.title))


# ---------------------------------------------------------------------------------------------
# What each day allows


@dataclass(frozen=True, slots=True)
class _Window:
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


def _race_windows(races: dict[date, tuple[str, float | None]]) -> tuple[list[_Window], list[_Window]]:
    """(no strength, short sessions back) after each race."""
    rest: list[_Window] = []
    back: list[_Window] = []
    for day, (name, distance) in sorted(races.items()):
        days = recovery_days(distance, name)
        rest.append(_Window(day + timedelta(days=1), day + timedelta(days=days), f"recovery after {name}"))
        first_back = day + timedelta(days=days + 1)
        back.append(
            _Window(first_back, first_back + timedelta(days=RETURN_AFTER_RACE_DAYS - 1), f"back after {name}")
        )
    return rest, back


def _break_windows(
    runs: Sequence[DayRun], settings: PlanSettings, today: date
) -> tuple[list[_Window], list[_Window]]:
    """(maintenance, return block): a current break or pause, and the weeks after one."""
    done = sorted({r.day for r in runs if not r.expected})
    maintenance: list[_Window] = []
    back: list[_Window] = []
    for before, after in itertools.pairwise(done):
        if (after - before).days > BREAK_DAYS:
            back.append(_Window(after, after + timedelta(days=RETURN_DAYS - 1), "back from a break"))
    far = date.max - timedelta(days=400)
    if on_break(runs, today):
        last = last_run_before(runs, today) or today
        maintenance.append(_Window(last + timedelta(days=BREAK_DAYS + 1), far, f"no runs since {last}"))
    if settings.paused_from is not None:
        until = settings.paused_until or far
        maintenance.append(_Window(settings.paused_from, until, "paused"))
        if settings.paused_until is not None:
            first = settings.paused_until + timedelta(days=1)
            back.append(_Window(first, first + timedelta(days=RETURN_DAYS - 1), "back from a pause"))
    return maintenance, back


class _Calendar:
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

    def window(self, windows: Sequence[_Window], day: date) -> _Window | None:
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
                return DayNote(DayReason.LONG_DAY, f"long-run day{_about(run)}")
        for run in self.runs_on(day + timedelta(days=1)):
            if run.key:
                return DayNote(DayReason.BEFORE_KEY, f"the day before a {run.kind}{_about(run)}")
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
        return DayNote(DayReason.HARD_DAY, f"hard-run day{_about(run)}")


def _about(run: DayRun) -> str:
    if run.source == "plan":
        return f" ({run.title}, from your training plan)" if run.title else " (from your training plan)"
    if run.expected and run.title:
        return f" ({run.title})"
    return ""


def _gap_after(run: DayRun, settings: PlanSettings) -> float:
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
            gap = timedelta(hours=_gap_after(run, settings))
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


def _taper(day: date, races: Sequence[Race]) -> tuple[float, Race] | None:
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


def _drop_heavy(day: date, races: Sequence[Race]) -> bool:
    return any(r.priority == "A" and 0 <= (r.day - day).days <= HEAVY_FREE_DAYS for r in races)


def week_target(monday: date, settings: PlanSettings) -> tuple[int, str | None]:
    """Sessions wanted this week, and the taper note when a race lowers it."""
    target = settings.max_sessions
    if _experience(settings) != "experienced":
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


def _experience(settings: PlanSettings) -> str:
    """A beginner is dosed as experienced after enough completed sessions."""
    if settings.experience == "beginner" and settings.completed_sessions >= SESSIONS_TO_ADVANCE:
        return "experienced"
    return settings.experience


# ---------------------------------------------------------------------------------------------
# Placement


@dataclass(slots=True)
class _WeekPlan:
    """One week's choice: the days for new sessions and the notes."""

    monday: date
    full: list[date] = field(default_factory=list)
    light: list[date] = field(default_factory=list)
    notes: list[WeekNote] = field(default_factory=list)
    short: bool = False  # the week holds fewer sessions than it wanted


class _Planner:
    """The steps of one planning run, in order: settle what stays, then plan week by week."""

    def __init__(
        self,
        now: datetime,
        runs: Sequence[DayRun],
        strength_days: Sequence[date],
        previous: Sequence[StrengthSession],
        settings: PlanSettings,
        horizon_days: int,
    ) -> None:
        self.settings = settings
        self.zone = settings.zone
        self.now = now.astimezone(self.zone)
        self.today = self.now.date()
        self.runs = list(runs)
        self.calendar = _Calendar(runs, settings, self.now)
        self.done_days = sorted(set(strength_days))
        self.previous = sorted(previous, key=lambda s: (s.start, s.uid))
        self.first = week_start(self.today)
        self.last = week_start(self.today + timedelta(days=horizon_days - 1))
        self.anchor = _block_anchor(settings, self.previous, self.first)
        self.result = PlanResult(sessions=[])
        self.fixed: list[StrengthSession] = []
        self.missed: set[str] = set()
        self.occupied: list[date] = []

    def local_day(self, session: StrengthSession) -> date:
        return session.start.astimezone(self.zone).date()

    # -- step 1: what stays as it is -----------------------------------------------------------

    def settle(self) -> None:
        """Past and done sessions stay; a missed one in a planned week may move; sessions within
        the stable window stay while they break no rule (calendar clients refresh slowly)."""
        for old in self.previous:
            day = self.local_day(old)
            if day in self.done_days or (old.start < self.now and old.end >= self.now):
                self.fixed.append(old)
            elif old.end < self.now:
                if day >= self.first and old.status is not SessionStatus.DONE:
                    self.missed.add(old.uid)
                else:
                    self.fixed.append(old)
        stable_until = self.now + timedelta(hours=self.settings.stable_hours)
        settled = {s.uid for s in self.fixed} | self.missed
        for old in self.previous:
            day = self.local_day(old)
            if old.uid in settled or old.start >= stable_until or day > self.last + timedelta(days=6):
                continue
            if self._still_legal(old, day):
                self.fixed.append(old)
        self.occupied = sorted(set(self.done_days) | {self.local_day(s) for s in self.fixed})

    def _still_legal(self, session: StrengthSession, day: date) -> bool:
        info = self.calendar.info(day)
        if session.kind == "full":
            allowed = info.block is None and (
                not info.fallback or (self.settings.hard_days_hard and _is_fallback_session(session))
            )
        else:
            allowed = info.light_ok
        if not allowed or info.start is None:
            return False
        if session.start.astimezone(self.zone).time() < info.start:
            return False
        others = [d for d in self.done_days if d != day] + [
            self.local_day(s) for s in self.fixed if s.uid != session.uid
        ]
        return all(abs((day - other).days) >= self.settings.min_gap_days for other in others)

    # -- step 2: the weeks ---------------------------------------------------------------------

    def run(self) -> PlanResult:
        self.settle()
        monday = self.first
        while monday <= self.last:
            self.plan_week(monday)
            monday += timedelta(days=7)
        planned = {s.uid for s in self.result.sessions}
        for old in self.previous:  # past sessions outside the planned weeks stay as they were
            if old.uid not in planned and self.local_day(old) < self.first:
                self.result.sessions.append(self._with_status(old))
        ordered = sorted(self.result.sessions, key=lambda s: (s.start, s.uid))
        self.result.sessions = reconcile(ordered, self.previous, self.now)
        return self.result

    def plan_week(self, monday: date) -> None:
        days = [monday + timedelta(days=i) for i in range(7)]
        kept = [s for s in self.fixed if week_start(self.local_day(s)) == monday]
        kept_days = {self.local_day(s) for s in kept}
        have = len(kept_days | {d for d in self.done_days if week_start(d) == monday})
        old_week = [
            s
            for s in self.previous
            if week_start(self.local_day(s)) == monday and s.uid not in {k.uid for k in kept}
        ]
        choice = self.choose_days(monday, days, have, {self.local_day(s) for s in old_week})
        placements = sorted([(d, "full") for d in choice.full] + [(d, "light") for d in choice.light])
        assigned = _assign_uids(placements, old_week, kept, self.settings.athlete_key, monday, self.zone)
        order = sorted(
            {*kept_days, *choice.full, *choice.light, *(d for d in self.done_days if week_start(d) == monday)}
        )
        sessions = list(kept)
        used = set()
        for (day, kind), (uid, before) in zip(placements, assigned, strict=True):
            used.add(uid)
            session = self.make_session(uid, day, kind, order.index(day), monday)
            sessions.append(self._note_change(session, before, day, kind))
        self._missed_notes(monday, old_week, used, choice, sessions)
        self.result.sessions.extend(self._with_status(s) for s in sessions)
        if choice.notes:
            self.result.weeks[monday] = choice.notes
        session_days = {self.local_day(s) for s in sessions}
        for day in days:
            if day not in session_days and day >= self.today:
                self.result.day_notes[day] = self._day_note(day)

    def _missed_notes(
        self,
        monday: date,
        old_week: Sequence[StrengthSession],
        used: set[str],
        choice: _WeekPlan,
        sessions: list[StrengthSession],
    ) -> None:
        """A missed session that found no day stays in the past as missed; the week says so."""
        missed = [s for s in old_week if s.uid in self.missed]
        dropped = [s for s in missed if s.uid not in used]
        moved = [s for s in missed if s.uid in used]
        if moved:
            names = ", ".join(WEEKDAY_NAMES[self.local_day(s).weekday()] for s in moved)
            choice.notes.append(
                WeekNote(WeekNoteKind.MISSED_MOVED, f"Missed on {names}: moved to a later day.")
            )
        if dropped and choice.short:
            names = ", ".join(WEEKDAY_NAMES[self.local_day(s).weekday()] for s in dropped)
            choice.notes.append(
                WeekNote(
                    WeekNoteKind.MISSED_DROPPED,
                    f"Missed on {names}: no legal day is left this week, so the week has "
                    f"{len(dropped)} session(s) fewer.",
                )
            )
        sessions.extend(dropped)

    def choose_days(self, monday: date, days: Sequence[date], have: int, preferred: set[date]) -> _WeekPlan:
        """Best days first, then hard days hard, then (opt-in) a light session, then fewer."""
        choice = _WeekPlan(monday)
        target, taper_note = week_target(monday, self.settings)
        if taper_note:
            choice.notes.append(WeekNote(WeekNoteKind.TAPER, taper_note))
        target = self._window_target(monday, days, target, choice)
        info = self.calendar.info
        free = [d for d in days if d not in self.occupied and info(d).block is None]
        regular = [d for d in free if not info(d).fallback]
        choice.full = self._pick(regular, max(0, target - have), preferred)
        wanted = min(self.settings.min_sessions, target)
        if have + len(choice.full) < wanted and self.settings.hard_days_hard:
            hard_days = [d for d in free if info(d).fallback]
            extra = self._pick(hard_days, wanted - have - len(choice.full), preferred)
            if extra:
                choice.full = sorted(choice.full + extra)
                choice.notes.append(
                    WeekNote(
                        WeekNoteKind.HARD_DAY_FALLBACK,
                        "Too few rest, cross-training or easy days: "
                        f"{'a session goes' if len(extra) == 1 else 'sessions go'} after a hard run "
                        "the same day (hard days hard), never before a hard or long day.",
                    )
                )
        if have + len(choice.full) < wanted and self.settings.light_day_before:
            light_days = [d for d in days if d not in self.occupied and info(d).light_ok]
            choice.light = self._pick(light_days, wanted - have - len(choice.full), preferred)
            if choice.light:
                choice.notes.append(
                    WeekNote(
                        WeekNoteKind.LIGHT_FALLBACK,
                        f"Too few free days for {wanted} full sessions: a short core and hip session "
                        f"takes {'their' if len(choice.light) > 1 else 'its'} place (you opted in).",
                    )
                )
        total = have + len(choice.full) + len(choice.light)
        choice.short = total < target
        if total < wanted and monday + timedelta(days=6) >= self.today:
            choice.notes.append(WeekNote(WeekNoteKind.FEWER, self._fewer_text(total, days)))
        return choice

    def _fewer_text(self, total: int, days: Sequence[date]) -> str:
        return (
            f"Only {total} session(s) fit this week: strength never goes on the day of or the day "
            f"before a hard run, a long run or a race, and no other day is left.{self._hint(days)}"
        )

    def _hint(self, days: Sequence[date]) -> str:
        """What the runner could turn on, when it would help this week."""
        hard_days = [
            self.calendar.info(d)
            for d in days
            if d >= self.today and self.calendar.info(d).fallback and d not in self.occupied
        ]
        open_days = [i for i in hard_days if i.block is None or i.block.reason is DayReason.NO_TIME]
        if not open_days:
            return ""
        if not self.settings.hard_days_hard:
            return " With planner.hard_days_hard = true a session may follow a hard run the same day."
        if not self.settings.hard_day_right_after and any(i.start is None for i in open_days):
            return " With planner.hard_day_right_after = true it may follow a late hard run at once."
        return ""

    def _window_target(self, monday: date, days: Sequence[date], target: int, choice: _WeekPlan) -> int:
        """Maintenance on a break (one short session a week); notes on race recovery and returns."""
        cal = self.calendar
        week_days = [d for d in days if d >= self.today] or list(days)
        pausing = [cal.window(cal.maintenance, d) for d in week_days]
        if all(w is not None for w in pausing):
            why = pausing[0].text if pausing[0] is not None else "a break"
            choice.notes.append(
                WeekNote(
                    WeekNoteKind.BREAK,
                    f"Not running ({why}): one short maintenance session, no plyometrics; "
                    "the usual week is not expected until you run again.",
                )
            )
            target = min(target, 1)
        recovering = next((w for d in days if (w := cal.window(cal.recovery, d)) is not None), None)
        if recovering is not None:
            choice.notes.append(
                WeekNote(
                    WeekNoteKind.RACE_RECOVERY,
                    f"Race recovery ({recovering.text}): no strength until {recovering.last.isoformat()}, "
                    "then short sessions without plyometrics or heavy leg work.",
                )
            )
        if self._form_week(monday):
            choice.notes.append(
                WeekNote(WeekNoteKind.FORM, f"{FORM_MARKER}: fewer sets, follow each exercise's cue.")
            )
        return target

    def _pick(self, candidates: Sequence[date], count: int, preferred: set[date]) -> list[date]:
        chosen = _choose(candidates, count, self.occupied, self.calendar, self.settings, preferred)
        self.occupied = sorted(set(self.occupied) | set(chosen))
        return chosen

    # -- step 3: each session's content --------------------------------------------------------

    def _form_week(self, monday: date) -> bool:
        weeks_in = (monday - self.anchor).days // 7
        return _experience(self.settings) == "beginner" and 0 <= weeks_in < FORM_WEEKS

    def make_session(self, uid: str, day: date, kind: str, index: int, monday: date) -> StrengthSession:
        s = self.settings
        weeks_in = max(0, (monday - self.anchor).days // 7)
        cal = self.calendar
        short = cal.window(cal.race_back, day) or cal.window(cal.break_back, day)
        short = short or cal.window(cal.maintenance, day)
        taper = _taper(day, s.races)
        drop_heavy = _drop_heavy(day, s.races) or short is not None
        emphasis = EMPHASES[(monday.toordinal() // 7 * 2 + index) % len(EMPHASES)]
        content = Content(
            experience=_experience(s),
            equipment=s.equipment,
            week_in_block=weeks_in % 4,
            level=weeks_in // 4,
            light=kind == "light",
            taper_factor=taper[0] if taper else 1.0,
            drop_heavy=drop_heavy,
            short=short is not None,
            form=self._form_week(monday),
        )
        exercises = build_session(
            () if kind == "light" else emphasis, monday.toordinal() // 7 + index, content
        )
        start_time = cal.info(day).start or s.strength_time
        why = _why(day, kind, cal, s, content, taper, short)
        return StrengthSession(
            uid=uid,
            start=datetime.combine(day, start_time, tzinfo=s.zone),
            duration_min=session_minutes(exercises),
            focus=LIGHT_FOCUS if kind == "light" else emphasis,
            exercises=exercises,
            why=why,
            kind=kind,
        )

    def _note_change(
        self, session: StrengthSession, before: StrengthSession | None, day: date, kind: str
    ) -> StrengthSession:
        """Record why a session moved or changed kind; keep that record while nothing else changes."""
        if before is None:
            return session
        old_day = self.local_day(before)
        if old_day != day:
            return replace(session, why=f"{session.why}{MOVED_MARKER}{self._moved_reason(before, old_day)}.")
        old_time = before.start.astimezone(self.zone).time()
        new_time = session.start.astimezone(self.zone).time()
        if old_time != new_time and before.kind == kind:
            earliest = self.calendar.info(day).start
            reason = (
                "the day's run now ends later"
                if earliest is not None and old_time < earliest
                else "the earliest time after the day's run"
            )
            when = old_time.isoformat(timespec="minutes")
            return replace(session, why=f"{session.why}{MOVED_MARKER}{when}: {reason}.")
        if before.kind != kind:
            info = self.calendar.info(day)
            reason = info.block.text if info.block else "a full session fits again"
            return replace(session, why=f"{session.why}{CHANGED_MARKER}{before.kind} to {kind}: {reason}.")
        for marker in (MOVED_MARKER, CHANGED_MARKER):
            if marker in before.why and before.why.split(marker, 1)[0] == session.why.split(marker, 1)[0]:
                return replace(session, why=before.why)
        return session

    def _moved_reason(self, before: StrengthSession, old_day: date) -> str:
        when = f"{WEEKDAY_NAMES[old_day.weekday()]} {old_day.isoformat()}"
        if before.uid in self.missed:
            return f"{when}: missed"
        info = self.calendar.info(old_day)
        reason = info.block.text if info.block is not None else None
        if reason is None and info.fallback and not _is_fallback_session(before):
            reason = self.calendar.hard_day_note(old_day).text
        if reason is None and before.kind == "light" and not info.light_ok:
            reason = "no short session is needed there"
        return f"{when}: {reason or 'a better day'}"

    def _day_note(self, day: date) -> DayNote:
        if day in self.done_days:
            return DayNote(DayReason.DONE, "strength work done this day (counts toward the week)")
        info = self.calendar.info(day)
        if info.block is not None:
            return info.block
        if info.fallback:
            return self.calendar.hard_day_note(day)
        near = [o for o in self.occupied if o != day and abs((day - o).days) < self.settings.min_gap_days]
        if near:
            other = WEEKDAY_NAMES[near[0].weekday()]
            return DayNote(
                DayReason.TOO_CLOSE,
                f"within {self.settings.min_hours_between} h of another strength session ({other})",
            )
        return DayNote(DayReason.RECOVERY, "recovery: the week's sessions are on better days")

    def _with_status(self, session: StrengthSession) -> StrengthSession:
        day = self.local_day(session)
        if day in self.done_days:
            status = SessionStatus.DONE
        elif session.end < self.now:
            status = SessionStatus.MISSED
        else:
            status = SessionStatus.PLANNED
        return session if session.status is status else replace(session, status=status)


def plan(
    *,
    now: datetime,
    runs: Sequence[DayRun],
    strength_days: Sequence[date],
    previous: Sequence[StrengthSession],
    settings: PlanSettings,
    horizon_days: int = 14,
) -> PlanResult:
    """Sessions for every week that overlaps today .. today + horizon_days - 1."""
    return _Planner(now, runs, strength_days, previous, settings, horizon_days).run()


def _block_anchor(settings: PlanSettings, previous: Sequence[StrengthSession], first: date) -> date:
    """Blocks count from the runner's first planned week, not from the calendar."""
    if settings.block_anchor is not None:
        return week_start(settings.block_anchor)
    days = [week_start(s.start.astimezone(settings.zone).date()) for s in previous]
    return min([first, *days])


def _is_fallback_session(session: StrengthSession) -> bool:
    return "(hard days hard)" in session.why


def _choose(
    candidates: Sequence[date],
    count: int,
    occupied: Sequence[date],
    calendar: _Calendar,
    settings: PlanSettings,
    preferred: set[date] | frozenset[date] = frozenset(),
) -> list[date]:
    """The largest legal set of up to ``count`` days; among those, the one that keeps most of the
    days already in the calendar, then the best score, then the most spread out, then the earliest."""
    gap = settings.min_gap_days
    free = [d for d in candidates if all(abs((d - o).days) >= gap for o in occupied)]
    for size in range(min(count, len(free)), 0, -1):
        combos = [
            c
            for c in itertools.combinations(free, size)
            if all((b - a).days >= gap for a, b in itertools.pairwise(c))
        ]
        if combos:
            best = max(combos, key=lambda c: _combo_key(c, occupied, calendar, preferred))
            return list(best)
    return []


def _combo_key(
    combo: tuple[date, ...],
    occupied: Sequence[date],
    calendar: _Calendar,
    preferred: set[date] | frozenset[date],
) -> tuple[int, int, int, tuple[int, ...]]:
    every = sorted(set(combo) | set(occupied))
    kept = len(preferred.intersection(combo))
    score = sum(calendar.info(d).score for d in combo)
    spread = min(((b - a).days for a, b in itertools.pairwise(every)), default=7)
    if len(combo) > 1:  # the same days recur next week: Monday and Sunday are not spread out
        spread = min(spread, (combo[0] - combo[-1]).days + 7)
    return (kept, score, spread, tuple(-d.toordinal() for d in combo))


def _assign_uids(
    placements: Sequence[tuple[date, str]],
    old_week: Sequence[StrengthSession],
    kept: Sequence[StrengthSession],
    athlete_key: str,
    monday: date,
    zone: tzinfo,
) -> list[tuple[str, StrengthSession | None]]:
    """Old UIDs go to sessions on the same day first, then in order of time; new UIDs after."""
    free = sorted(old_week, key=lambda s: (s.start, s.uid))
    out: list[tuple[str, StrengthSession | None] | None] = [None] * len(placements)
    for index, (day, _kind) in enumerate(placements):
        match = next((s for s in free if s.start.astimezone(zone).date() == day), None)
        if match is not None:
            free.remove(match)
            out[index] = (match.uid, match)
    used = {s.uid for s in kept} | {s.uid for s in old_week}
    slot = 0
    for index in range(len(placements)):
        if out[index] is not None:
            continue
        if free:
            old = free.pop(0)
            out[index] = (old.uid, old)
            continue
        while _uid(athlete_key, monday, slot) in used:
            slot += 1
        uid = _uid(athlete_key, monday, slot)
        used.add(uid)
        out[index] = (uid, None)
    return [item for item in out if item is not None]


def reconcile(
    sessions: Sequence[StrengthSession],
    previous: Sequence[StrengthSession],
    now: datetime,
) -> list[StrengthSession]:
    """Carry UID history over: SEQUENCE and the change time rise only on a real change. A session
    that only turned from planned to missed has not changed: time passing alone is no change."""
    old = {s.uid: s for s in previous}
    out: list[StrengthSession] = []
    for session in sessions:
        before = old.get(session.uid)
        if before is None:
            out.append(replace(session, sequence=0, changed_at=now))
            continue
        compared = session
        if session.status is SessionStatus.MISSED and before.status is SessionStatus.PLANNED:
            compared = replace(session, status=before.status)
        if before.same_content(compared):
            if (session.sequence, session.changed_at) != (before.sequence, before.changed_at):
                session = replace(session, sequence=before.sequence, changed_at=before.changed_at)
            out.append(session)
        else:
            out.append(replace(session, sequence=before.sequence + 1, changed_at=now))
    return out


def _uid(athlete_key: str, monday: date, slot: int) -> str:
    year, week, _ = monday.isocalendar()
    return f"{athlete_key}-{year}w{week:02d}-{slot}@runstrong-sync"


def _why(
    day: date,
    kind: str,
    calendar: _Calendar,
    settings: PlanSettings,
    content: Content,
    taper: tuple[float, Race] | None,
    short: _Window | None,
) -> str:
    extra = _why_extra(kind, content, taper, short)
    return f"{_why_day(day, calendar, settings)}{_why_next(day, calendar)}.{extra}"


def _why_day(day: date, calendar: _Calendar, settings: PlanSettings) -> str:
    name = WEEKDAY_NAMES[day.weekday()]
    today_runs = calendar.runs_on(day)
    if not today_runs:
        what = f"{name} is a rest or cross-training day"
    else:
        run = max(today_runs, key=lambda r: (r.key, r.end or time(0)))
        gap = _gap_after(run, settings)
        when = "right after it" if gap == 0 else f"at least {gap:g} h after it"
        if run.hard:
            what = f"{name} has a hard run{_about(run)} (hard days hard): strength {when}"
        else:
            what = f"{name} has an easy run{_about(run)}: strength {when}"
            if gap == 0:
                what += ", the run is the warm-up"
    if any(r.hard for r in calendar.runs_on(day - timedelta(days=1))):
        what += ", the day after a hard run"
    return what


def _why_next(day: date, calendar: _Calendar) -> str:
    upcoming = sorted((r for r in calendar.runs if r.day > day and r.key), key=lambda r: r.day)
    if not upcoming:
        return "; no hard or long run follows the next day"
    nxt = upcoming[0]
    gap_days = (nxt.day - day).days
    when = "the next day" if gap_days == 1 else f"{gap_days} days later"
    return f"; the next {nxt.kind} is {when} ({WEEKDAY_NAMES[nxt.day.weekday()]})"


def _why_extra(kind: str, content: Content, taper: tuple[float, Race] | None, short: _Window | None) -> str:
    extra = ""
    if kind == "light":
        extra += " Only a short core and hip session fits here."
    if short is not None:
        extra += f" Short session ({short.text}): bodyweight, no plyometrics or heavy leg work."
    if content.form and kind == "full":
        extra += f" {FORM_MARKER}: fewer sets, follow each cue."
    if content.week_in_block == DELOAD_WEEK:
        extra += " Lighter week: fewer sets, same load."
    elif content.level > 0 and not content.form:
        extra += f" Block {content.level + 1}: {_progression_text(content)}."
    if taper is not None:
        factor, race = taper
        extra += f" Taper for {race.name} ({race.priority}, {race.day.isoformat()}): volume x{factor:g}."
    if content.drop_heavy and kind == "full" and short is None:
        extra += " No heavy leg work before an A race."
    return extra


def _progression_text(content: Content) -> str:
    if content.level == 1:
        return "one more set than the first block"
    if content.level == 2:
        return "harder variants"
    return "add 2-10 % load when every set reaches the top of the range with 1-2 reps to spare"
