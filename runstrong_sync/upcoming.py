"""Upcoming runs from a training plan's calendar (TrainingPeaks, Runna, Garmin, any ICS feed).

``planner.upcoming_runs_ics`` is a file path or an http(s) URL. Events are read with icalendar;
the planner's core turns their titles and descriptions into easy, hard or long runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import requests
from icalendar import Calendar

from runstrong_sync.core.plan import PlannedEvent
from runstrong_sync.core.text import clean_text
from runstrong_sync.errors import UpcomingRunsError

TIMEOUT_S = 20
PAST_DAYS = 21  # past races in the plan's calendar still set the recovery after them
MAX_BYTES = 5_000_000


def fetch(source: str, http_session: Any = None) -> bytes:
    """The feed's bytes from a URL (with the given requests session) or a file."""
    if source.startswith(("http://", "https://", "webcal://")):
        url = "https://" + source.removeprefix("webcal://") if source.startswith("webcal://") else source
        session = http_session or requests.Session()
        try:
            response = session.get(url, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise UpcomingRunsError(
                f"The training plan's calendar {url} cannot be reached: {exc}.",
                ["Check planner.upcoming_runs_ics, or your network; the last good copy is used meanwhile."],
            ) from exc
        if response.status_code != 200:
            raise UpcomingRunsError(
                f"The training plan's calendar {url} answered HTTP {response.status_code}.",
                ["Check the feed's address in planner.upcoming_runs_ics (copy it again from the app)."],
            )
        data: bytes = response.content
    else:
        path = Path(source).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UpcomingRunsError(
                f"The training plan's calendar file {path} cannot be read: {exc.strerror}.",
                ["Check planner.upcoming_runs_ics in the configuration."],
            ) from exc
    if len(data) > MAX_BYTES:
        raise UpcomingRunsError(f"The training plan's calendar {source} is larger than {MAX_BYTES} bytes.")
    return data


def parse(data: bytes, source: str, zone: tzinfo, first: date, last: date) -> list[PlannedEvent]:
    """Events between ``first`` and ``last`` (local days), cancelled ones left out."""
    try:
        calendar = Calendar.from_ical(data)
    except ValueError as exc:
        raise UpcomingRunsError(
            f"The training plan's calendar {source} is not a valid iCalendar file: {exc}.",
            ["Check that planner.upcoming_runs_ics points at the .ics feed, not a web page."],
        ) from exc
    events: list[PlannedEvent] = []
    for component in _events(calendar):
        if str(component.get("status", "")).upper() == "CANCELLED":
            continue
        start_prop = component.get("dtstart")
        if start_prop is None:
            continue
        start = _local(start_prop.dt, zone)
        end_prop = component.get("dtend")
        end: datetime | date | None = _local(end_prop.dt, zone) if end_prop is not None else None
        if end is None and component.get("duration") is not None and isinstance(start, datetime):
            end = start + component.decoded("duration")
        day = start.date() if isinstance(start, datetime) else start
        if not first <= day <= last:
            continue
        events.append(
            PlannedEvent(
                start=start,
                end=end,
                title=clean_text(str(component.get("summary", ""))),  # outside text, cleaned here
                description=clean_text(str(component.get("description", ""))),
            )
        )
    return sorted(events, key=lambda e: (_sort_key(e.start), e.title))


def read_upcoming(
    source: str, zone: tzinfo, today: date, days: int = 28, http_session: Any = None, past_days: int = 0
) -> list[PlannedEvent]:
    first = today - timedelta(days=past_days)
    return parse(fetch(source, http_session), source, zone, first, today + timedelta(days=days))


def _events(calendar: Calendar) -> Iterator[Any]:
    yield from calendar.walk("VEVENT")


def _local(value: datetime | date, zone: tzinfo) -> datetime | date:
    if isinstance(value, datetime):
        return value.astimezone(zone) if value.tzinfo is not None else value.replace(tzinfo=zone)
    return value


def _sort_key(value: datetime | date) -> tuple[date, str]:
    if isinstance(value, datetime):
        return value.date(), value.time().isoformat()
    return value, ""


def events_to_json(events: list[PlannedEvent]) -> list[dict[str, Any]]:
    """For the last good copy kept in the database."""
    return [
        {
            "start": e.start.isoformat(),
            "end": e.end.isoformat() if e.end is not None else None,
            "all_day": not isinstance(e.start, datetime),
            "title": e.title,
            "description": e.description,
        }
        for e in events
    ]


def events_from_json(data: list[dict[str, Any]]) -> list[PlannedEvent]:
    events: list[PlannedEvent] = []
    for item in data:
        convert = date.fromisoformat if item.get("all_day") else datetime.fromisoformat
        end = item.get("end")
        events.append(
            PlannedEvent(
                start=convert(item["start"]),
                end=convert(end) if end else None,
                title=item.get("title", ""),
                description=item.get("description", ""),
            )
        )
    return events
