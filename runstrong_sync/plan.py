"""Place strength sessions in the weeks around today, and keep their identity when they move.

Hard rules (docs: training-rules.md, part b):
  - never on the day of, or the day before, a hard run, a long run or a race;
  - on a hard-run day only in "hard days hard" mode, at least max(gap, 4) h after the run;
  - on a run day the session starts at least ``gap_after_run_hours`` after the run ends, and no later
    than 21:00 (else the day is not used);
  - at least ``min_hours_between`` between sessions, counted in whole days (48 h = two days), also
    against strength work already done;
  - only on the runner's strength days.
Preferences: rest and cross-training days (+3), easy-run days (+2), the day after a hard run (+1),
a hard-run day in hard-days-hard mode (+1). A short core-and-hip session may go on the day before
a hard or long run when a week has too few legal days; never on a key-run or race day.
Sessions per week: ``max_sessions`` (beginners at most 2); 1 in the last two weeks before an A or B
race. A session keeps its UID when it moves and its SEQUENCE rises on every change; past sessions
and those within ``stable_hours`` stay put unless a rule is now broken.
Pure: the caller passes the runs, the clock and the previous plan.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from runstrong_sync.domain import Label, SessionStatus, StrengthSession
from runstrong_sync.exercises import DELOAD_WEEK, build_exercises, session_minutes, week_in_block

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LATEST_START = time(21, 0)
HARD_DAY_MIN_GAP_HOURS = 4.0  # Pendola 4-8 h, Gaudette: strength after the hard run, same day
ASSUMED_RUN_END = time(12, 0)  # a planned run whose time is unknown is taken to end by noon
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
# Taper (Pendola): strength volume two weeks out / in race week, and sessions per week.
TAPER_VOLUME = {"A": (0.5, 0.25), "B": (0.5, 0.5), "C": (0.75, 0.75)}
TAPER_SESSIONS = {"A": 1, "B": 1}
HEAVY_FREE_DAYS = 14  # no heavy lower-body work in the last 10-14 days before an A race


@dataclass(frozen=True, slots=True)
class DayRun:
    """A run on a day: done (from an activity) or expected (from the pattern or a plan's feed)."""

    day: date
    label: Label
    hard: bool  # counts as hard for placement (hard, race, or an uncertain label)
    end: time | None = None  # local end time, when known
    expected: bool = False
    title: str = ""
    source: str = "done"  # done, pattern (the runner's usual week) or plan (a training plan's feed)

    @property
    def key(self) -> bool:
        return self.hard or self.label is Label.LONG

    @property
    def kind(self) -> str:
        return "long run" if self.label is Label.LONG else "hard run" if self.hard else "easy run"


@dataclass(frozen=True, slots=True)
class Race:
    day: date
    priority: str  # A, B, C
    name: str


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
    gap_after_run_hours: float = 6.0
    hard_days_hard: bool = False
    stable_hours: int = 48
    available_days: frozenset[int] = frozenset(range(7))  # 0 = Monday
    strength_time: time = time(18, 30)
    experience: str = "beginner"
    equipment: tuple[str, ...] = ("bodyweight",)
    races: tuple[Race, ...] = ()

    @property
    def min_gap_days(self) -> int:
        return max(1, -(-self.min_hours_between // 24))


@dataclass(slots=True)
class PlanResult:
    sessions: list[StrengthSession]
    notes: dict[date, str] = field(default_factory=dict)  # why a day has no session
    week_notes: dict[date, str] = field(default_factory=dict)  # keyed by the week's Monday


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


# ---------------------------------------------------------------------------------------------
# Upcoming runs: the runner's own pattern, and a training plan's calendar


def predict_runs(
    history: Sequence[DayRun], today: date, weeks: int = 6, horizon_days: int = 14
) -> list[DayRun]:
    """Expected runs from the runner's own week over the last ``weeks`` complete weeks.

    A weekday is a key day when a hard or long run fell on it in at least half of the weeks that
    had any run; long when most of those were long. A weekday with any run in half of the weeks
    expects an easy run. The usual end time is the median of those runs'. A long run already done
    this week replaces the week's expected one.
    """
    this_monday = week_start(today)
    since = this_monday - timedelta(weeks=weeks)
    past = [r for r in history if since <= r.day < this_monday and not r.expected]
    active_weeks = {week_start(r.day) for r in past}
    if len(active_weeks) < 2:
        return []
    done_this_week = [r for r in history if this_monday <= r.day < today and not r.expected]
    predictions: list[DayRun] = []
    for weekday in range(7):
        on_day = [r for r in past if r.day.weekday() == weekday]
        run_weeks = {week_start(r.day) for r in on_day}
        if len(run_weeks) * 2 < len(active_weeks):
            continue
        key_weeks = {week_start(r.day) for r in on_day if r.key}
        long_weeks = {week_start(r.day) for r in on_day if r.label is Label.LONG}
        if len(key_weeks) * 2 >= len(active_weeks):
            label = Label.LONG if len(long_weeks) * 2 >= len(key_weeks) else Label.HARD
        else:
            label = Label.EASY
        ends = sorted(r.end for r in on_day if r.end is not None and (r.key or label is Label.EASY))
        usual_end = ends[(len(ends) - 1) // 2] if ends else None
        for offset in range(horizon_days):
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
        minutes: float | None = None
        end_time: time | None = None
        if isinstance(event.start, datetime):
            start = event.start.astimezone(zone) if event.start.tzinfo else event.start.replace(tzinfo=zone)
            day = start.date()
            if isinstance(event.end, datetime):
                end = event.end.astimezone(zone) if event.end.tzinfo else event.end.replace(tzinfo=zone)
                minutes = (end - start).total_seconds() / 60
                end_time = end.time().replace(second=0, microsecond=0) if end.date() == day else time(23, 59)
        else:
            day = event.start
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
            )
        )
    return sorted(runs, key=lambda r: (r.day, r.title))


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
# Placement


@dataclass(frozen=True, slots=True)
class _Day:
    """What the rules say about one day."""

    day: date
    runs: tuple[DayRun, ...]
    full_block: str | None  # why a full session may not go here (None: it may)
    light_block: str | None  # why a light session may not go here either
    start: time | None  # the earliest start allowed (None: no time left that day)
    score: int


class _Week:
    def __init__(self, runs: Sequence[DayRun], settings: PlanSettings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.by_day: dict[date, tuple[DayRun, ...]] = {}
        for run in runs:
            self.by_day[run.day] = (*self.by_day.get(run.day, ()), run)
        self._cache: dict[date, _Day] = {}
        self.races: dict[date, Race] = {}
        for race in sorted(settings.races, key=lambda r: r.priority, reverse=True):
            self.races[race.day] = race  # the highest priority on a day wins

    def runs_on(self, day: date) -> tuple[DayRun, ...]:
        return self.by_day.get(day, ())

    def info(self, day: date) -> _Day:
        if day not in self._cache:
            self._cache[day] = self._assess(day)
        return self._cache[day]

    def _assess(self, day: date) -> _Day:
        s = self.settings
        same = self.runs_on(day)
        after = self.runs_on(day + timedelta(days=1))
        race = self.races.get(day)
        race_next = self.races.get(day + timedelta(days=1))
        start = _start_time(day, same, s)
        full: str | None = None
        light: str | None = None
        if race is not None:
            full = light = f"race day ({race.name})"
        elif race_next is not None:
            full = light = f"the day before a race ({race_next.name})"
        elif day.weekday() not in s.available_days:
            full = light = "not one of your strength days"
        if full is None:
            for run in same:
                if run.label is Label.LONG:
                    full = light = f"long-run day{_about(run)}"
                    break
                if run.hard and not s.hard_days_hard:
                    full = light = f"hard-run day{_about(run)}"
                    break
                if run.hard:
                    light = f"hard-run day{_about(run)}: only a full session after the run"
        if full is None:
            for run in after:
                if run.key:
                    full = f"the day before a {run.kind}{_about(run)}"
                    break
        if start is None:
            reason = "the run ends too late for strength after it with the gap you set"
            full = full or reason
            light = light or reason
        if day < self.now.date() or (
            start is not None and datetime.combine(day, start, tzinfo=self.now.tzinfo) <= self.now
        ):
            full = full or "already past"
            light = light or "already past"
        score = 3 if not same else 2 if not any(r.key for r in same) else 1
        if any(r.hard for r in self.runs_on(day - timedelta(days=1))):
            score += 1
        return _Day(day, same, full, light, start, score)


def _about(run: DayRun) -> str:
    if run.source == "plan":
        return f" ({run.title}, from your training plan)" if run.title else " (from your training plan)"
    if run.expected and run.title:
        return f" ({run.title})"
    return ""


def _start_time(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> time | None:
    """The configured time, or later so it follows every run on the day by the gap; None when that
    would be after 21:00."""
    start = datetime.combine(day, settings.strength_time)
    for run in runs:
        gap = settings.gap_after_run_hours
        if run.hard:
            gap = max(gap, HARD_DAY_MIN_GAP_HOURS)
        end = run.end if run.end is not None else ASSUMED_RUN_END
        earliest = datetime.combine(day, end) + timedelta(hours=gap)
        if earliest.second or earliest.microsecond:
            earliest = earliest.replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = max(start, earliest)
    if start.date() != day or start.time() > LATEST_START:
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
    if settings.experience != "experienced":
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
    zone = settings.zone
    local_now = now.astimezone(zone)
    today = local_now.date()
    week = _Week(runs, settings, local_now)
    done_days = sorted(set(strength_days))
    result = PlanResult(sessions=[])
    first = week_start(today)
    last = week_start(today + timedelta(days=horizon_days - 1))

    def local_day(session: StrengthSession) -> date:
        return session.start.astimezone(zone).date()

    # Sessions that stay as they are: past ones, done ones, and those within the stable window
    # that break no rule (calendar clients refresh slowly).
    stable_until = local_now + timedelta(hours=settings.stable_hours)
    fixed: list[StrengthSession] = []
    for old in sorted(previous, key=lambda s: (s.start, s.uid)):
        day = local_day(old)
        if old.start < local_now or day in done_days:
            fixed.append(old)
    settled = {s.uid for s in fixed}
    for old in sorted(previous, key=lambda s: (s.start, s.uid)):
        day = local_day(old)
        if old.uid in settled or old.start >= stable_until or day > last + timedelta(days=6):
            continue
        if _still_legal(old, day, week, fixed, done_days, settings):
            fixed.append(old)
    fixed_uids = {s.uid for s in fixed}
    occupied = sorted(set(done_days) | {local_day(s) for s in fixed})

    monday = first
    while monday <= last:
        days = [monday + timedelta(days=i) for i in range(7)]
        target, taper_note = week_target(monday, settings)
        old_week = [s for s in previous if week_start(local_day(s)) == monday and s.uid not in fixed_uids]
        kept = [s for s in fixed if week_start(local_day(s)) == monday]
        kept_days = {local_day(s) for s in kept}
        have = len(kept_days | {d for d in done_days if week_start(d) == monday})
        preferred = {local_day(s) for s in old_week}
        full_days = [d for d in days if week.info(d).full_block is None and d not in occupied]
        chosen = _choose(full_days, max(0, target - have), occupied, week, settings, preferred)
        occupied = sorted(set(occupied) | set(chosen))
        wanted = min(settings.min_sessions, target)
        light: list[date] = []
        if have + len(chosen) < wanted:
            light_days = [
                d
                for d in days
                if week.info(d).full_block is not None
                and week.info(d).light_block is None
                and d not in occupied
            ]
            light = _choose(light_days, wanted - have - len(chosen), occupied, week, settings, preferred)
            occupied = sorted(set(occupied) | set(light))
        total = have + len(chosen) + len(light)
        notes = []
        if taper_note:
            notes.append(taper_note)
        if light:
            notes.append(
                f"Too few free days for {wanted} full sessions: a short core and hip session "
                f"takes {'their' if len(light) > 1 else 'its'} place."
            )
        if total < wanted and monday + timedelta(days=6) >= today:
            hint = (
                "" if settings.hard_days_hard else " Consider 'hard days hard' mode (planner.hard_days_hard)."
            )
            notes.append(
                f"Only {total} session(s) fit this week: hard and long runs leave no other legal day.{hint}"
            )
        if notes:
            result.week_notes[monday] = " ".join(notes)

        placements = sorted([(d, "full") for d in chosen] + [(d, "light") for d in light])
        assigned = _assign_uids(placements, old_week, kept, settings.athlete_key, monday, zone)
        week_sessions = list(kept)
        order = sorted({*kept_days, *chosen, *light, *(d for d in done_days if week_start(d) == monday)})
        for (day, kind), (uid, before) in zip(placements, assigned, strict=True):
            session = _make_session(uid, day, kind, week, runs, settings, order.index(day), monday)
            week_sessions.append(_note_change(session, before, day, kind, week, zone))
        week_sessions = [_with_status(s, done_days, local_now, zone) for s in week_sessions]
        result.sessions.extend(week_sessions)
        session_days = {local_day(s) for s in week_sessions}
        for day in days:
            if day in session_days or day < today:
                continue
            result.notes[day] = _day_note(day, week, occupied, done_days, settings)
        monday += timedelta(days=7)

    # Past sessions outside the planned weeks are kept as they were.
    planned = {s.uid for s in result.sessions}
    for old in previous:
        if old.uid not in planned and local_day(old) < first:
            result.sessions.append(_with_status(old, done_days, local_now, zone))
    result.sessions = reconcile(sorted(result.sessions, key=lambda s: (s.start, s.uid)), previous, local_now)
    return result


def _still_legal(
    session: StrengthSession,
    day: date,
    week: _Week,
    fixed: Sequence[StrengthSession],
    done_days: Sequence[date],
    settings: PlanSettings,
) -> bool:
    info = week.info(day)
    block = info.full_block if session.kind == "full" else info.light_block
    if block is not None or info.start is None:
        return False
    if session.start.astimezone(settings.zone).time() < info.start:
        return False
    others = [d for d in done_days if d != day] + [
        s.start.astimezone(settings.zone).date() for s in fixed if s.uid != session.uid
    ]
    return all(abs((day - other).days) >= settings.min_gap_days for other in others)


def _choose(
    candidates: Sequence[date],
    count: int,
    occupied: Sequence[date],
    week: _Week,
    settings: PlanSettings,
    preferred: set[date] | frozenset[date] = frozenset(),
) -> list[date]:
    """The largest legal set of up to ``count`` days; among those, the one that keeps most of the
    days already in the calendar, then the best score, then the most spread out, then the earliest."""
    gap = settings.min_gap_days
    free = [d for d in candidates if all(abs((d - o).days) >= gap for o in occupied)]
    for size in range(min(count, len(free)), 0, -1):
        best_key: tuple[int, int, int, tuple[int, ...]] | None = None
        best: tuple[date, ...] = ()
        for combo in itertools.combinations(free, size):
            if any((b - a).days < gap for a, b in itertools.pairwise(combo)):
                continue
            every = sorted(set(combo) | set(occupied))
            kept = len(preferred.intersection(combo))
            score = sum(week.info(d).score for d in combo)
            spread = min(((b - a).days for a, b in itertools.pairwise(every)), default=7)
            if len(combo) > 1:  # the same days recur next week: Monday and Sunday are not spread out
                spread = min(spread, (combo[0] - combo[-1]).days + 7)
            key = (kept, score, spread, tuple(-d.toordinal() for d in combo))
            if best_key is None or key > best_key:
                best_key, best = key, combo
        if best_key is not None:
            return list(best)
    return []


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
    """Carry UID history over: SEQUENCE and the change time rise only on a real change."""
    old = {s.uid: s for s in previous}
    out: list[StrengthSession] = []
    for session in sessions:
        before = old.get(session.uid)
        if before is None:
            out.append(replace(session, sequence=0, changed_at=now))
        elif before.same_content(session):
            if (session.sequence, session.changed_at) != (before.sequence, before.changed_at):
                session = replace(session, sequence=before.sequence, changed_at=before.changed_at)
            out.append(session)
        else:
            out.append(replace(session, sequence=before.sequence + 1, changed_at=now))
    return out


def _uid(athlete_key: str, monday: date, slot: int) -> str:
    year, week, _ = monday.isocalendar()
    return f"{athlete_key}-{year}w{week:02d}-{slot}@runstrong-sync"


def _make_session(
    uid: str,
    day: date,
    kind: str,
    week: _Week,
    runs: Sequence[DayRun],
    settings: PlanSettings,
    index: int,
    monday: date,
) -> StrengthSession:
    block = week_in_block(monday.toordinal())
    taper = _taper(day, settings.races)
    drop_heavy = _drop_heavy(day, settings.races)
    emphasis = EMPHASES[(monday.toordinal() // 7 * 2 + index) % len(EMPHASES)]
    exercises = build_exercises(
        () if kind == "light" else emphasis,
        rotation=monday.toordinal() // 7 + index,
        experience=settings.experience,
        equipment=settings.equipment,
        week_in_block=block,
        light=kind == "light",
        taper_factor=taper[0] if taper else 1.0,
        drop_heavy=drop_heavy,
    )
    start_time = week.info(day).start or settings.strength_time
    return StrengthSession(
        uid=uid,
        start=datetime.combine(day, start_time, tzinfo=settings.zone),
        duration_min=session_minutes(exercises),
        focus=LIGHT_FOCUS if kind == "light" else emphasis,
        exercises=exercises,
        why=_why(day, kind, week, runs, settings, block, taper, drop_heavy),
        kind=kind,
    )


def _why(
    day: date,
    kind: str,
    week: _Week,
    runs: Sequence[DayRun],
    settings: PlanSettings,
    block: int,
    taper: tuple[float, Race] | None,
    drop_heavy: bool,
) -> str:
    name = WEEKDAY_NAMES[day.weekday()]
    today_runs = week.runs_on(day)
    if not today_runs:
        what = f"{name} is a rest or cross-training day"
    else:
        run = max(today_runs, key=lambda r: (r.key, r.end or time(0)))
        gap = settings.gap_after_run_hours
        if run.hard:
            gap = max(gap, HARD_DAY_MIN_GAP_HOURS)
            what = (
                f"{name} has a hard run{_about(run)} (hard days hard): strength at least {gap:g} h after it"
            )
        else:
            what = f"{name} has an easy run{_about(run)}: strength at least {gap:g} h after it"
    yesterday = week.runs_on(day - timedelta(days=1))
    if any(r.hard for r in yesterday):
        what += ", the day after a hard run"
    upcoming = sorted((r for r in runs if r.day > day and r.key), key=lambda r: r.day)
    if upcoming:
        nxt = upcoming[0]
        gap_days = (nxt.day - day).days
        when = "the next day" if gap_days == 1 else f"{gap_days} days later"
        tail = f"; the next {nxt.kind} is {when} ({WEEKDAY_NAMES[nxt.day.weekday()]})"
    else:
        tail = "; no hard or long run follows the next day"
    extra = ""
    if kind == "light":
        extra += " Only a short core and hip session fits here."
    if block == DELOAD_WEEK:
        extra += " Lighter week: fewer sets, same load."
    if taper is not None:
        factor, race = taper
        extra += f" Taper for {race.name} ({race.priority}, {race.day.isoformat()}): volume x{factor:g}."
    if drop_heavy and kind == "full":
        extra += " No heavy leg work before an A race."
    return f"{what}{tail}.{extra}"


def _note_change(
    session: StrengthSession,
    before: StrengthSession | None,
    day: date,
    kind: str,
    week: _Week,
    zone: tzinfo,
) -> StrengthSession:
    """Record why a session moved or changed kind; keep that record while nothing else changes."""
    if before is None:
        return session
    old_day = before.start.astimezone(zone).date()
    if old_day != day:
        info = week.info(old_day)
        reason = (info.full_block if before.kind == "full" else info.light_block) or "a better day"
        when = f"{WEEKDAY_NAMES[old_day.weekday()]} {old_day.isoformat()}"
        return replace(session, why=f"{session.why}{MOVED_MARKER}{when}: {reason}.")
    old_time = before.start.astimezone(zone).time()
    new_time = session.start.astimezone(zone).time()
    if old_time != new_time and before.kind == kind:
        earliest = week.info(day).start
        reason = (
            "the day's run now needs a longer gap before strength"
            if earliest is not None and old_time < earliest
            else "the earliest time after the day's run"
        )
        when = old_time.isoformat(timespec="minutes")
        return replace(session, why=f"{session.why}{MOVED_MARKER}{when}: {reason}.")
    if before.kind != kind:
        info = week.info(day)
        reason = info.full_block or "a full session fits again"
        return replace(session, why=f"{session.why}{CHANGED_MARKER}{before.kind} to {kind}: {reason}.")
    for marker in (MOVED_MARKER, CHANGED_MARKER):
        if marker in before.why and before.why.split(marker, 1)[0] == session.why.split(marker, 1)[0]:
            return replace(session, why=before.why)
    return session


def _day_note(
    day: date, week: _Week, occupied: Sequence[date], done_days: Sequence[date], settings: PlanSettings
) -> str:
    if day in done_days:
        return "strength work done this day (counts toward the week)"
    info = week.info(day)
    if info.full_block is not None:
        return info.full_block
    near = [o for o in occupied if o != day and abs((day - o).days) < settings.min_gap_days]
    if near:
        other = WEEKDAY_NAMES[near[0].weekday()]
        return f"within {settings.min_hours_between} h of another strength session ({other})"
    return "recovery: the week's sessions are on better days"


def _with_status(
    session: StrengthSession, strength_days: Sequence[date], now: datetime, zone: tzinfo
) -> StrengthSession:
    day = session.start.astimezone(zone).date()
    if day in strength_days:
        status = SessionStatus.DONE
    elif session.end < now:
        status = SessionStatus.MISSED
    else:
        status = SessionStatus.PLANNED
    return session if session.status is status else replace(session, status=status)
