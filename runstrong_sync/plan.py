"""Place strength sessions in the weeks around today, and keep their identity when they move.

Hard rules (training rules, part b): never on the day of or the day before a hard run, a long run
or a race; at least 48 h between sessions; only on the runner's available days. Preferences: rest
and cross-training days (+3), easy-run days after the run (+2), the day after a hard run (+1).
When too few legal days remain, a short core-and-hip session goes where a full one may not.
Pure: the caller passes the runs, the clock and the previous plan.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from runstrong_sync.domain import Label, SessionStatus, StrengthSession
from runstrong_sync.exercises import build_exercises, session_minutes

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
LATEST_START = time(21, 0)
# Emphasis rotates through the week so every group is trained.
EMPHASES: tuple[tuple[str, ...], ...] = (
    ("glutes", "hamstrings", "core", "calves"),
    ("quads", "glutes", "calves", "core"),
    ("hamstrings", "quads", "core", "calves"),
)
LIGHT_GROUPS = ("core", "glutes")


@dataclass(frozen=True, slots=True)
class DayRun:
    """A run on a day: done (from an activity) or expected (from the pattern or a plan's feed)."""

    day: date
    label: Label
    hard: bool  # counts as hard for placement (hard, race, or an uncertain label)
    end: time | None = None  # local end time, when known
    expected: bool = False
    title: str = ""

    @property
    def key(self) -> bool:
        return self.hard or self.label is Label.LONG


@dataclass(frozen=True, slots=True)
class Race:
    day: date
    priority: str  # A, B, C
    name: str


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


@dataclass(slots=True)
class PlanResult:
    sessions: list[StrengthSession]
    notes: dict[date, str] = field(default_factory=dict)  # why a day has no session
    week_notes: dict[date, str] = field(default_factory=dict)  # keyed by the week's Monday


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def predict_runs(
    history: Sequence[DayRun], today: date, weeks: int = 6, horizon_days: int = 14
) -> list[DayRun]:
    """Expected key runs from the runner's own weekly pattern over the last ``weeks`` weeks.

    A weekday counts as a key day when a hard or long run fell on it in at least half of the
    weeks that had any run at all.
    """
    since = week_start(today) - timedelta(weeks=weeks)
    past = [r for r in history if since <= r.day < today and not r.expected]
    active_weeks = {week_start(r.day) for r in past}
    if len(active_weeks) < 2:
        return []
    predictions: list[DayRun] = []
    for weekday in range(7):
        on_day = [r for r in past if r.day.weekday() == weekday]
        key_weeks = {week_start(r.day) for r in on_day if r.key}
        if len(key_weeks) * 2 < len(active_weeks):
            continue
        long_weeks = {week_start(r.day) for r in on_day if r.label is Label.LONG}
        label = Label.LONG if len(long_weeks) * 2 >= len(key_weeks) else Label.HARD
        for offset in range(horizon_days):
            day = today + timedelta(days=offset)
            if day.weekday() == weekday:
                kind = "long run" if label is Label.LONG else "hard run"
                predictions.append(
                    DayRun(
                        day,
                        label,
                        hard=label is Label.HARD,
                        expected=True,
                        title=f"usual {WEEKDAY_NAMES[weekday]} {kind}",
                    )
                )
    return predictions


def merge_runs(done: Iterable[DayRun], expected: Iterable[DayRun], today: date) -> list[DayRun]:
    """Done runs win for past days and today; expected runs fill days not yet run."""
    done_list = list(done)
    done_days = {r.day for r in done_list}
    merged = done_list + [r for r in expected if r.day >= today and r.day not in done_days]
    return sorted(merged, key=lambda r: (r.day, r.expected))


def plan(
    *,
    now: datetime,
    runs: Sequence[DayRun],
    strength_days: Sequence[date],
    previous: Sequence[StrengthSession],
    settings: PlanSettings,
    horizon_days: int = 14,
) -> PlanResult:
    """Sessions for every week that overlaps today .. today + horizon_days."""
    local_now = now.astimezone(settings.zone)
    today = local_now.date()
    result = PlanResult(sessions=[])
    first = week_start(today)
    last = week_start(today + timedelta(days=horizon_days - 1))
    anchors: list[date] = sorted(set(strength_days))
    monday = first
    while monday <= last:
        week = _plan_week(monday, local_now, runs, anchors, previous, settings, result)
        anchors = sorted(set(anchors) | {s.start.date() for s in week})
        result.sessions.extend(week)
        monday += timedelta(days=7)
    # Previous sessions in the past, outside the planned weeks, are kept as they were.
    planned_uids = {s.uid for s in result.sessions}
    for old in previous:
        if old.uid not in planned_uids and old.start.astimezone(settings.zone).date() < first:
            result.sessions.append(old)
    result.sessions.sort(key=lambda s: s.start)
    return result


def _plan_week(
    monday: date,
    now: datetime,
    runs: Sequence[DayRun],
    strength_days: Sequence[date],
    previous: Sequence[StrengthSession],
    settings: PlanSettings,
    result: PlanResult,
) -> list[StrengthSession]:
    zone = settings.zone
    today = now.date()
    days = [monday + timedelta(days=i) for i in range(7)]
    by_day: dict[date, list[DayRun]] = {d: [r for r in runs if r.day == d] for d in days}
    next_day_runs = {d: [r for r in runs if r.day == d + timedelta(days=1)] for d in days}
    taper = _taper(monday, settings.races)

    old_week = sorted(
        (s for s in previous if week_start(s.start.astimezone(zone).date()) == monday), key=lambda s: s.start
    )
    forbidden: dict[date, str] = {}
    light_only: dict[date, str] = {}
    for day in days:
        reason = _forbidden_reason(day, by_day[day], next_day_runs[day], settings)
        if reason is not None:
            forbidden[day] = reason
            if not any(r.key for r in by_day[day]) and _race_on(day, settings.races) is None:
                light_only[day] = reason
        elif day.weekday() not in settings.available_days:
            forbidden[day] = "not one of your strength days"

    # Sessions that can no longer move: in the past, or soon (calendar clients refresh slowly).
    stable_until = now + timedelta(hours=settings.stable_hours)
    kept: list[StrengthSession] = []
    for old in old_week:
        start = old.start.astimezone(zone)
        if start < now or (start < stable_until and start.date() not in forbidden):
            kept.append(old)

    done_in_week = [d for d in strength_days if monday <= d < monday + timedelta(days=7)]
    kept_days = {s.start.astimezone(zone).date() for s in kept}
    extra_done = [d for d in done_in_week if d not in kept_days]
    target = settings.max_sessions
    if taper is not None and taper[0] <= 0.5:
        target = 1
    needed = max(0, target - len(kept) - len(extra_done))
    occupied = sorted(set(strength_days) | kept_days)

    candidates = [
        d
        for d in days
        if d not in forbidden and d not in occupied and _startable(d, now, by_day[d], settings)
    ]
    preferred = {s.start.astimezone(zone).date() for s in old_week}
    chosen = _choose(candidates, needed, occupied, by_day, settings, preferred)
    light: list[date] = []
    have = len(kept) + len(extra_done) + len(chosen)
    if have < min(settings.min_sessions, target):
        light_candidates = [
            d
            for d in days
            if d in light_only
            and d.weekday() in settings.available_days
            and d not in occupied
            and d not in chosen
            and _startable(d, now, by_day[d], settings)
        ]
        light = _choose(
            light_candidates,
            min(settings.min_sessions, target) - have,
            sorted(set(occupied) | set(chosen)),
            by_day,
            settings,
            preferred,
        )
        if len(light) + have < settings.min_sessions:
            result.week_notes[monday] = (
                f"Only {len(light) + have} session(s) fit this week: hard and long runs leave no other "
                "legal day. Consider 'hard days hard' mode (planner.hard_days_hard)."
            )
        elif light:
            result.week_notes[monday] = (
                "Too few free days this week for full sessions: a short core and hip session "
                "takes the place of one."
            )
    elif taper is not None:
        result.week_notes[monday] = taper[1]

    new_days = sorted([(d, "full") for d in chosen] + [(d, "light") for d in light])
    sessions = list(kept)
    used_uids = {s.uid for s in kept}
    free_uids = [s.uid for s in old_week if s.uid not in used_uids]
    slot = 0
    for day, kind in new_days:
        while True:
            uid = free_uids.pop(0) if free_uids else _uid(settings.athlete_key, monday, slot)
            slot += 1
            if uid not in used_uids:
                break
        used_uids.add(uid)
        sessions.append(_make_session(uid, day, kind, by_day, runs, settings, taper, len(sessions)))

    sessions = [_with_status(s, strength_days, now, zone) for s in sessions]
    sessions = reconcile(sessions, old_week, now)
    session_days = {s.start.astimezone(zone).date() for s in sessions}
    for day in days:
        if day not in session_days and day >= today:
            result.notes[day] = forbidden.get(day) or _quiet_reason(day, occupied, settings)
    return sessions


def reconcile(
    sessions: Sequence[StrengthSession], previous: Sequence[StrengthSession], now: datetime
) -> list[StrengthSession]:
    """Carry UID history over: SEQUENCE and the change time rise only on a real change."""
    old = {s.uid: s for s in previous}
    out: list[StrengthSession] = []
    for session in sessions:
        before = old.get(session.uid)
        if before is None:
            out.append(replace(session, sequence=0, changed_at=now))
        elif before.same_content(session):
            out.append(replace(session, sequence=before.sequence, changed_at=before.changed_at))
        else:
            out.append(replace(session, sequence=before.sequence + 1, changed_at=now))
    return out


def _uid(athlete_key: str, monday: date, slot: int) -> str:
    year, week, _ = monday.isocalendar()
    return f"{athlete_key}-{year}w{week:02d}-{slot}@runstrong-sync"


def _race_on(day: date, races: Sequence[Race]) -> Race | None:
    return next((r for r in races if r.day == day), None)


def _forbidden_reason(
    day: date, same_day: Sequence[DayRun], next_day: Sequence[DayRun], settings: PlanSettings
) -> str | None:
    race = _race_on(day, settings.races)
    if race is not None:
        return f"race day ({race.name})"
    if _race_on(day + timedelta(days=1), settings.races) is not None:
        return "the day before a race"
    for run in same_day:
        if run.label is Label.LONG:
            return f"long-run day{_expected(run)}"
        if run.hard and not settings.hard_days_hard:
            return f"hard-run day{_expected(run)}"
    for run in next_day:
        if run.label is Label.LONG:
            return f"the day before a long run{_expected(run)}"
        if run.hard:
            return f"the day before a hard run{_expected(run)}"
    return None


def _expected(run: DayRun) -> str:
    return f" ({run.title})" if run.expected and run.title else ""


def _startable(day: date, now: datetime, runs: Sequence[DayRun], settings: PlanSettings) -> bool:
    """A day in the past, or today after the session's time, cannot take a new session."""
    if day < now.date():
        return False
    if day > now.date():
        return True
    start = _start_time(day, runs, settings)
    return start is not None and datetime.combine(day, start, tzinfo=now.tzinfo) > now


def _start_time(day: date, runs: Sequence[DayRun], settings: PlanSettings) -> time | None:
    start = settings.strength_time
    ends = [r.end for r in runs if r.end is not None]
    if ends:
        earliest = datetime.combine(day, max(ends)) + timedelta(hours=settings.gap_after_run_hours)
        if earliest.date() != day or earliest.time() > LATEST_START:
            earliest = datetime.combine(day, LATEST_START)
        start = max(start, earliest.time().replace(second=0, microsecond=0))
    return start


def _score(day: date, by_day: dict[date, list[DayRun]]) -> int:
    runs = by_day.get(day, [])
    score = 3 if not runs else 2 if all(r.label is Label.EASY and not r.hard for r in runs) else 0
    yesterday = by_day.get(day - timedelta(days=1), [])
    if any(r.hard for r in yesterday):
        score += 1
    return score


def _choose(
    candidates: Sequence[date],
    count: int,
    occupied: Sequence[date],
    by_day: dict[date, list[DayRun]],
    settings: PlanSettings,
    preferred: set[date] | frozenset[date] = frozenset(),
) -> list[date]:
    """The legal set of ``count`` days (or fewer) with the best score; among equals the one that
    keeps the days already in the calendar, then the most spread out, then the earliest."""
    min_gap = max(1, -(-settings.min_hours_between // 24))
    for size in range(min(count, len(candidates)), 0, -1):
        best_key: tuple[int, int, int, tuple[int, ...]] | None = None
        best: tuple[date, ...] = ()
        for combo in itertools.combinations(candidates, size):
            every = sorted(set(combo) | set(occupied))
            if any((b - a).days < min_gap for a, b in itertools.pairwise(every)):
                continue
            score = sum(_score(d, by_day) for d in combo)
            kept = len(preferred.intersection(combo))
            spread = min(((b - a).days for a, b in itertools.pairwise(every)), default=7)
            key = (score, kept, spread, tuple(-d.toordinal() for d in combo))
            if best_key is None or key > best_key:
                best_key, best = key, combo
        if best_key is not None:
            return list(best)
    return []


def _taper(monday: date, races: Sequence[Race]) -> tuple[float, str] | None:
    """(volume factor, note) when an A, B or C race falls in this week or the next."""
    factors = {"A": (0.5, 0.25), "B": (0.5, 0.5), "C": (0.75, 0.75)}
    best: tuple[float, str] | None = None
    for race in races:
        weeks_out = (week_start(race.day) - monday).days // 7
        if weeks_out not in (0, 1):
            continue
        factor = factors[race.priority][0 if weeks_out == 1 else 1]
        note = (
            f"Taper for {race.name} ({race.priority} race, {race.day.isoformat()}): "
            f"strength volume x{factor}."
        )
        if best is None or factor < best[0]:
            best = (factor, note)
    return best


def _make_session(
    uid: str,
    day: date,
    kind: str,
    by_day: dict[date, list[DayRun]],
    runs: Sequence[DayRun],
    settings: PlanSettings,
    taper: tuple[float, str] | None,
    index: int,
) -> StrengthSession:
    week_in_block = (day.isocalendar()[1] - 1) % 4
    drop_heavy = any(r.priority == "A" and 0 <= (r.day - day).days <= 14 for r in settings.races)
    if kind == "light":
        groups: tuple[str, ...] = LIGHT_GROUPS
    else:
        groups = EMPHASES[index % len(EMPHASES)]
    exercises = build_exercises(
        groups,
        rotation=day.toordinal() // 7 + index,
        experience=settings.experience,
        equipment=settings.equipment,
        week_in_block=week_in_block,
        light=kind == "light",
        taper_factor=taper[0] if taper else 1.0,
        drop_heavy=drop_heavy,
    )
    minutes = session_minutes(exercises)
    minutes = max(15, min(25, minutes)) if kind == "light" else max(25, min(40, minutes))
    start_time = _start_time(day, by_day.get(day, []), settings) or settings.strength_time
    start = datetime.combine(day, start_time, tzinfo=settings.zone)
    focus = groups[:2]
    return StrengthSession(
        uid=uid,
        start=start,
        duration_min=minutes,
        focus=focus,
        exercises=exercises,
        why=_why(day, kind, by_day, runs, week_in_block),
        kind=kind,
    )


def _why(
    day: date, kind: str, by_day: dict[date, list[DayRun]], runs: Sequence[DayRun], week_in_block: int
) -> str:
    name = WEEKDAY_NAMES[day.weekday()]
    today_runs = by_day.get(day, [])
    if not today_runs:
        what = f"{name} is a rest or cross-training day"
    else:
        labels = ", ".join(f"{r.label.value} run" + (" (expected)" if r.expected else "") for r in today_runs)
        what = (
            f"{name} has an {labels}; strength comes after it"
            if labels[0] in "aeiou"
            else (f"{name} has a {labels}; strength comes after it")
        )
    upcoming = [r for r in runs if r.day > day and r.key]
    nxt = min(upcoming, key=lambda r: r.day) if upcoming else None
    if nxt is not None:
        gap = (nxt.day - day).days
        kind_text = "long run" if nxt.label is Label.LONG else "hard run"
        tail = f"; the next {kind_text} is {gap} days later ({WEEKDAY_NAMES[nxt.day.weekday()]})"
    else:
        tail = "; no hard or long run follows within a day"
    block = " This is a lighter (deload) week." if week_in_block == 3 else ""
    if kind == "light":
        return f"{what}{tail}. Only a short core and hip session fits here.{block}"
    return f"{what}{tail}.{block}"


def _quiet_reason(day: date, occupied: Sequence[date], settings: PlanSettings) -> str:
    min_gap = max(1, -(-settings.min_hours_between // 24))
    if any(abs((day - d).days) < min_gap for d in occupied):
        return f"within {settings.min_hours_between} h of another strength session"
    return "recovery: the week's sessions are placed on better days"


def _with_status(
    session: StrengthSession, strength_days: Sequence[date], now: datetime, zone: tzinfo
) -> StrengthSession:
    day = session.start.astimezone(zone).date()
    if day in strength_days:
        return replace(session, status=SessionStatus.DONE)
    if session.end < now:
        return replace(session, status=SessionStatus.MISSED)
    return replace(session, status=SessionStatus.PLANNED)
