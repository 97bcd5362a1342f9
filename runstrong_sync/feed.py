"""The iCalendar feeds (RFC 5545 with RFC 7986 names): strength sessions, runs, busy-only.

Every builder is a pure function of its input and ``today``: no clock is read, so the same
sessions give the same bytes, and DTSTAMP / LAST-MODIFIED are the time of the last real
change. icalendar writes the content lines (CRLF, text escaping, folding at 75 octets between
whole UTF-8 characters); the VTIMEZONE comes from ``vtimezone`` (yearly rules, not RDATE lists).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vDuration, vText

from runstrong_sync.core.domain import Label, LabelledActivity, SessionStatus, StrengthSession
from runstrong_sync.vtimezone import vtimezone

PRODID = "-//runstrong-sync//Strength for runners//EN"
DESCRIPTION = "Strength sessions placed around your running by runstrong-sync."
RUNS_DESCRIPTION = "Your runs as runstrong-sync labels them: easy, hard or long, and why."
BUSY_DESCRIPTION = "Times blocked for strength training."
FEED_NAMES = ("strength", "runs", "busy")  # file and URL names: strength.ics, runs.ics, busy.ics


@dataclass(frozen=True, slots=True)
class FeedSettings:
    name: str
    time_zone: str
    refresh_minutes: int = 360
    past_weeks: int = 4
    future_weeks: int = 2
    all_day: bool = False
    busy: bool = True
    alarm_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """The rolling window: local days from ``first`` to ``last``, both included."""

    first: date
    last: date
    zone: ZoneInfo

    @classmethod
    def around(cls, today: date, settings: FeedSettings) -> Window:
        return cls(
            today - timedelta(weeks=settings.past_weeks),
            today + timedelta(weeks=settings.future_weeks),
            ZoneInfo(settings.time_zone),
        )

    def holds(self, instant: datetime) -> bool:
        return self.first <= instant.astimezone(self.zone).date() <= self.last


def session_description(session: StrengthSession) -> str:
    lines = [f"Why this day: {session.why}", ""]
    for exercise in session.exercises:
        lines.append(f"- {exercise.name}: {exercise.dose}, rest {exercise.rest_s} s")
        if exercise.cue:
            lines.append(f"  {exercise.cue}")
    lines += ["", "Warm up 5 minutes first. Stop a set with 1-2 good reps left."]
    if session.status is SessionStatus.DONE:
        lines.insert(0, "Done: a strength activity was recorded this day.")
    return "\n".join(lines)


def session_summary(session: StrengthSession) -> str:
    return ("Done - " if session.status is SessionStatus.DONE else "") + session.title


def build_feed(
    sessions: Sequence[StrengthSession],
    settings: FeedSettings,
    today: date,
    extra_events: Sequence[Event] = (),
) -> bytes:
    """The strength feed: every session in the window, with exercises, cues and why that day.

    ``extra_events`` (the sync-health notice) are added as given, after the sessions."""
    window = Window.around(today, settings)
    shown = sorted((s for s in sessions if window.holds(s.start)), key=lambda s: (s.start, s.uid))
    calendar = _calendar(settings.name, DESCRIPTION, settings)
    events = [_session_event(s, settings, window.zone, busy_only=False) for s in shown]
    return _finish(calendar, [*events, *extra_events], settings, window)


def build_busy_feed(sessions: Sequence[StrengthSession], settings: FeedSettings, today: date) -> bytes:
    """The same times with titles only: no exercises, no reasons, no reminders, always busy."""
    window = Window.around(today, settings)
    shown = sorted((s for s in sessions if window.holds(s.start)), key=lambda s: (s.start, s.uid))
    calendar = _calendar(f"{settings.name} (busy)", BUSY_DESCRIPTION, settings)
    events = [_session_event(s, settings, window.zone, busy_only=True) for s in shown]
    return _finish(calendar, events, settings, window)


@dataclass(frozen=True, slots=True)
class RunStamp:
    """How a run was last published: its UID, SEQUENCE and the time of its last change."""

    uid: str
    sequence: int = 0
    changed_at: datetime | None = None  # None: the end of the run


def build_runs_feed(
    runs: Sequence[LabelledActivity],
    settings: FeedSettings,
    today: date,
    stamps: Mapping[int, RunStamp] | None = None,
) -> bytes:
    """The runs in the window with their label, confidence and reasons (never all-day, always free).

    ``stamps`` (by activity id) give each run its UID, SEQUENCE and DTSTAMP; without one a run is
    ``run-<id>@runstrong-sync``, SEQUENCE 0, stamped with the end of the run."""
    window = Window.around(today, settings)
    shown = sorted(
        (r for r in runs if r.activity.is_run and window.holds(r.activity.start_utc)),
        key=lambda r: (r.activity.start_utc, r.id),
    )
    calendar = _calendar(f"{settings.name} (runs)", RUNS_DESCRIPTION, settings)
    events = [_run_event(r, window.zone, (stamps or {}).get(r.id)) for r in shown]
    return _finish(calendar, events, settings, window)


def _calendar(name: str, description: str, settings: FeedSettings) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # As vText: icalendar does not know NAME and the X-WR names as TEXT and would not escape them.
    calendar.add("name", vText(name))
    calendar.add("x-wr-calname", vText(name))
    calendar.add("description", vText(description))
    calendar.add("x-wr-caldesc", vText(description))
    calendar.add("x-wr-timezone", settings.time_zone)
    refresh = timedelta(minutes=settings.refresh_minutes)
    calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    return calendar


def _finish(calendar: Calendar, events: list[Event], settings: FeedSettings, window: Window) -> bytes:
    # Always present: RFC 5545 wants at least one component, and X-WR-TIMEZONE names this zone.
    calendar.add_component(vtimezone(settings.time_zone, window.first, window.last))
    for event in events:
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


def local_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """``instant`` on the runner's wall clock; in UTC within the hour that repeats when clocks go
    back, where readers disagree (RFC 5545 takes the first pass, ical.js the second)."""
    utc = instant.astimezone(UTC).replace(microsecond=0)
    local = utc.astimezone(zone)
    if local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset():
        return utc
    return local


def session_end(session: StrengthSession) -> datetime:
    """Start plus duration in elapsed time (aware arithmetic in one zone would use the wall clock)."""
    return session.start.astimezone(UTC) + timedelta(minutes=session.duration_min)


def _stamp(event: Event, changed: datetime, sequence: int) -> None:
    utc = changed.astimezone(UTC).replace(microsecond=0)
    event.add("dtstamp", utc)
    event.add("last-modified", utc)
    event.add("sequence", sequence)


def _session_event(
    session: StrengthSession, settings: FeedSettings, zone: ZoneInfo, *, busy_only: bool
) -> Event:
    event = Event()
    event.add("uid", f"busy-{session.uid}" if busy_only else session.uid)
    _stamp(event, session.changed_at or session.start, session.sequence)
    event.add("summary", session_summary(session))
    if settings.all_day:
        day = session.start.astimezone(zone).date()
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    else:
        event.add("dtstart", local_time(session.start, zone))
        event.add("dtend", local_time(session_end(session), zone))
    if not busy_only:
        event.add("description", session_description(session))
        event.add("categories", ["Strength", "Running"])
    event.add("transp", "OPAQUE" if settings.busy or busy_only else "TRANSPARENT")
    event.add("status", "CONFIRMED")
    if settings.alarm_minutes is not None and not busy_only:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", session.title)
        alarm.add("trigger", timedelta(minutes=-settings.alarm_minutes))
        event.add_component(alarm)
    return event


def run_summary(item: LabelledActivity) -> str:
    activity, label = item.activity, item.classification.label
    kind = {Label.EASY: "Easy run", Label.HARD: "Hard run", Label.LONG: "Long run"}.get(label, "Run")
    parts = []
    if activity.distance_m:
        parts.append(f"{activity.distance_m / 1000:.1f} km")
    parts.append(f"{round(activity.elapsed_s / 60)} min")
    return f"{kind} ({', '.join(parts)})"


def run_description(item: LabelledActivity) -> str:
    activity, classification = item.activity, item.classification
    lines = []
    if activity.name:
        lines.append(activity.name)
    confidence = "set by you" if classification.overridden else f"confidence {classification.confidence:.0%}"
    lines.append(f"Label: {classification.label.value} ({confidence})")
    lines += [f"- {reason.text}" for reason in classification.reasons]
    return "\n".join(lines)


def run_content_hash(item: LabelledActivity) -> str:
    """A digest of everything a calendar shows of a run: a change raises its SEQUENCE."""
    activity = item.activity
    shown = "\x1f".join(
        (
            run_summary(item),
            run_description(item),
            item.classification.label.value,
            activity.start_utc.isoformat(),
            str(round(activity.elapsed_s)),
        )
    )
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()


def _run_event(item: LabelledActivity, zone: ZoneInfo, stamp: RunStamp | None) -> Event:
    activity, classification = item.activity, item.classification
    start = activity.start_utc.replace(microsecond=0)
    end = start + timedelta(seconds=round(activity.elapsed_s))
    stamp = stamp or RunStamp(f"run-{item.id}@runstrong-sync")
    event = Event()
    event.add("uid", stamp.uid)
    # Until its label, title or description changes, the end of the run is its stable stamp.
    _stamp(event, stamp.changed_at or end, stamp.sequence)
    event.add("summary", run_summary(item))
    event.add("dtstart", local_time(start, zone))
    event.add("dtend", local_time(end, zone))
    event.add("description", run_description(item))
    event.add("categories", ["Running", classification.label.value.capitalize()])
    event.add("transp", "TRANSPARENT")
    event.add("status", "CONFIRMED")
    return event
