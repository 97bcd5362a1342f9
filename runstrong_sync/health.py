"""Sync health as one calendar event: the runner sees a broken sync where they look every day.

Pure: the facts come in (what the sync runs table says), an event or nothing comes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from icalendar import Event

from runstrong_sync.core.domain import SyncOutcome

REAUTHORIZE = SyncOutcome.REAUTHORIZE
OK_OUTCOMES = frozenset(o for o in SyncOutcome if o.published)  # the plan and feed went out
SOURCE_NAMES = {"strava": "Strava", "garmin": "Garmin Connect", "fit": "the FIT folder", "pipeline": "sync"}
REAUTHORIZE_NAMES = {"strava": "Strava", "garmin": "Garmin Connect"}  # sources signed in to once


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What the sync runs say about one source (or ``pipeline``, the whole run)."""

    source: str
    first_started: datetime
    last_started: datetime
    last_outcome: str
    last_message: str | None
    last_success: datetime | None


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # "reauthorize" or "stale"
    title: str
    description: str


def age_text(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


def sync_notice(
    sources: Iterable[SourceHealth], now: datetime, stale_after: timedelta, *, ignore: Sequence[str] = ()
) -> Notice | None:
    """One notice at most: re-authorization first (it needs the runner), then the stalest source."""
    known = [s for s in sources if s.source not in ignore]
    for item in known:
        if item.source in REAUTHORIZE_NAMES and item.last_outcome == REAUTHORIZE:
            name = REAUTHORIZE_NAMES[item.source]
            command = f"runstrong-sync {item.source} auth"
            access = "runstrong-sync's access" if item.source == "strava" else "runstrong-sync's sign-in"
            return Notice(
                REAUTHORIZE,
                f"{name} needs re-authorization — run `{command}`",
                f"{name} no longer accepts {access}, so new runs are not coming in and "
                "the strength plan cannot follow them.\n"
                f"Run `{command}` on the machine that syncs, then "
                "`runstrong-sync sync`.\n"
                f"Last attempt: {item.last_started.isoformat(timespec='minutes')}.",
            )
    stalest: tuple[timedelta, SourceHealth] | None = None
    for item in known:
        reference = item.last_success or item.first_started
        age = now - reference
        if age > stale_after and (stalest is None or age > stalest[0]):
            stalest = (age, item)
    if stalest is None:
        return None
    age, item = stalest
    what = SOURCE_NAMES.get(item.source, item.source)
    last = "last sync" if item.source == "pipeline" else f"last successful sync of {what}"
    when = age_text(age)
    if item.last_success is None:
        title = f"runstrong-sync: no successful sync of {what} yet — check `runstrong-sync status`"
    else:
        title = f"runstrong-sync: {last} {when} ago — check `runstrong-sync status`"
    details = [
        f"The plan may be out of date: the {last} was {when} ago.",
        f"Latest attempt: {item.last_started.isoformat(timespec='minutes')}, outcome: {item.last_outcome}.",
    ]
    if item.last_message:
        details.append(f"Message: {item.last_message}")
    details.append("Check that cron or the daemon is running, and run `runstrong-sync status`.")
    return Notice("stale", title, "\n".join(details))


def notice_event(notice: Notice, uid: str, now: datetime, today: date) -> Event:
    """An all-day, free event on ``today``; SEQUENCE rises daily so calendars move it, not copy it."""
    from icalendar import Event  # only when a notice is published: keeps start-up light

    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("last-modified", now)
    event.add("sequence", max(0, today.toordinal() - date(2000, 1, 1).toordinal()))
    event.add("summary", notice.title)
    event.add("description", notice.description)
    event.add("dtstart", today)
    event.add("dtend", today + timedelta(days=1))
    event.add("transp", "TRANSPARENT")
    event.add("status", "CONFIRMED")
    event.add("categories", ["runstrong-sync"])
    return event
