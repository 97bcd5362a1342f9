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

The parts: ``planmodel.py`` (the types, named here as before), ``expected_runs.py`` (the runs ahead),
``legal_days.py`` (what each day allows, windows, weekly targets); here the sessions are placed,
given their content, UIDs and reasons.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo

from runstrong_sync.core.domain import SessionStatus, StrengthSession
from runstrong_sync.core.exercises import (
    DELOAD_WEEK,
    Content,
    build_session,
    session_minutes,
)
from runstrong_sync.core.legal_days import (
    Calendar,
    Window,
    describe_run,
    drops_heavy,
    experience_level,
    gap_after_run,
    taper_for,
    week_target,
)
from runstrong_sync.core.planmodel import (
    LATEST_START,
    WEEKDAY_NAMES,
    DayNote,
    DayReason,
    DayRun,
    PlannedEvent,
    PlanResult,
    PlanSettings,
    Race,
    WeekNote,
    WeekNoteKind,
    week_start,
)

__all__ = [
    "FORM_MARKER",
    "LATEST_START",
    "DayNote",
    "DayReason",
    "DayRun",
    "PlanResult",
    "PlanSettings",
    "PlannedEvent",
    "Race",
    "WeekNote",
    "WeekNoteKind",
    "plan",
    "reconcile",
    "week_start",
]

FORM_WEEKS = 2  # a beginner's first weeks teach the movements
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
        self.calendar = Calendar(runs, settings, self.now)
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
        open_days = [
            i
            for i in hard_days
            if i.block is None or i.block.reason in (DayReason.NO_TIME, DayReason.HARD_DAY)
        ]
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
        return experience_level(self.settings) == "beginner" and 0 <= weeks_in < FORM_WEEKS

    def make_session(self, uid: str, day: date, kind: str, index: int, monday: date) -> StrengthSession:
        s = self.settings
        weeks_in = max(0, (monday - self.anchor).days // 7)
        cal = self.calendar
        short = cal.window(cal.race_back, day) or cal.window(cal.break_back, day)
        short = short or cal.window(cal.maintenance, day)
        taper = taper_for(day, s.races)
        drop_heavy = drops_heavy(day, s.races) or short is not None
        emphasis = EMPHASES[(monday.toordinal() // 7 * 2 + index) % len(EMPHASES)]
        content = Content(
            experience=experience_level(s),
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
    calendar: Calendar,
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
    calendar: Calendar,
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
    calendar: Calendar,
    settings: PlanSettings,
    content: Content,
    taper: tuple[float, Race] | None,
    short: Window | None,
) -> str:
    extra = _why_extra(kind, content, taper, short)
    return f"{_why_day(day, calendar, settings)}{_why_next(day, calendar)}.{extra}"


def _why_day(day: date, calendar: Calendar, settings: PlanSettings) -> str:
    name = WEEKDAY_NAMES[day.weekday()]
    today_runs = calendar.runs_on(day)
    if not today_runs:
        what = f"{name} is a rest or cross-training day"
    else:
        run = max(today_runs, key=lambda r: (r.key, r.end or time(0)))
        gap = gap_after_run(run, settings)
        when = "right after it" if gap == 0 else f"at least {gap:g} h after it"
        if run.hard:
            what = f"{name} has a hard run{describe_run(run)} (hard days hard): strength {when}"
        else:
            what = f"{name} has an easy run{describe_run(run)}: strength {when}"
            if gap == 0:
                what += ", the run is the warm-up"
    if any(r.hard for r in calendar.runs_on(day - timedelta(days=1))):
        what += ", the day after a hard run"
    return what


def _why_next(day: date, calendar: Calendar) -> str:
    upcoming = sorted((r for r in calendar.runs if r.day > day and r.key), key=lambda r: r.day)
    if not upcoming:
        return "; no hard or long run follows the next day"
    nxt = upcoming[0]
    gap_days = (nxt.day - day).days
    when = "the next day" if gap_days == 1 else f"{gap_days} days later"
    return f"; the next {nxt.kind} is {when} ({WEEKDAY_NAMES[nxt.day.weekday()]})"


def _why_extra(kind: str, content: Content, taper: tuple[float, Race] | None, short: Window | None) -> str:
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
