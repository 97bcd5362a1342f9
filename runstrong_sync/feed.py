"""The iCalendar feed of strength sessions (RFC 5545 with RFC 7986 names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vDuration

from runstrong_sync.domain import SessionStatus, StrengthSession

PRODID = "-//runstrong-sync//Strength for runners//EN"


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


def build_feed(
    sessions: Sequence[StrengthSession],
    settings: FeedSettings,
    today: date,
    extra_events: Sequence[Event] = (),
) -> bytes:
    """Bytes of the feed; the same sessions always give the same bytes (no clock is read).

    ``extra_events`` (the sync-health notice) are added as given, after the sessions."""
    zone = ZoneInfo(settings.time_zone)
    first = today - timedelta(weeks=settings.past_weeks)
    last = today + timedelta(weeks=settings.future_weeks)
    shown = sorted(
        (s for s in sessions if first <= s.start.astimezone(zone).date() <= last),
        key=lambda s: (s.start, s.uid),
    )
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", settings.name)
    calendar.add("x-wr-calname", settings.name)
    calendar.add("description", "Strength sessions placed around your running by runstrong-sync.")
    calendar.add("x-wr-caldesc", "Strength sessions placed around your running by runstrong-sync.")
    calendar.add("x-wr-timezone", settings.time_zone)
    refresh = timedelta(minutes=settings.refresh_minutes)
    calendar.add("refresh-interval", vDuration(refresh), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(refresh))
    if shown and not settings.all_day and settings.time_zone != "UTC":
        window_start = datetime.combine(first, datetime.min.time())
        window_end = datetime.combine(last + timedelta(days=1), datetime.min.time())
        calendar.add_component(
            Timezone.from_tzid(
                settings.time_zone, first_date=window_start.date(), last_date=window_end.date()
            )
        )
    for session in shown:
        calendar.add_component(_event(session, settings, zone))
    for extra in extra_events:
        calendar.add_component(extra)
    data: bytes = calendar.to_ical()
    return data


def _event(session: StrengthSession, settings: FeedSettings, zone: ZoneInfo) -> Event:
    event = Event()
    changed = session.changed_at or session.start
    event.add("uid", session.uid)
    event.add("dtstamp", changed)
    event.add("last-modified", changed)
    event.add("sequence", session.sequence)
    event.add("summary", ("Done - " if session.status is SessionStatus.DONE else "") + session.title)
    if settings.all_day:
        day = session.start.astimezone(zone).date()
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    else:
        event.add("dtstart", session.start.astimezone(zone))
        event.add("dtend", session.end.astimezone(zone))
    event.add("description", session_description(session))
    event.add("categories", ["Strength", "Running"])
    event.add("transp", "OPAQUE" if settings.busy else "TRANSPARENT")
    event.add("status", "CONFIRMED")
    if settings.alarm_minutes is not None:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", session.title)
        alarm.add("trigger", timedelta(minutes=-settings.alarm_minutes))
        event.add_component(alarm)
    return event
