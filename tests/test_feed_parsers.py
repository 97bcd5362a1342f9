"""Four independent parsers read the feed back and see the same events at the same instants,
across DST changes in both hemispheres and in zones whose rules changed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import icalendar
import pytest

from runstrong_sync.feed import FeedSettings, build_feed, session_description, session_end
from runstrong_sync.vtimezone import transitions, vtimezone
from tests.feedkit import (
    Seen,
    read_ha_ical,
    read_icalendar,
    read_icaljs,
    read_vobject,
    session,
    unfold,
)

# (zone, today): each year-long window holds DST changes, or a change of the rules themselves.
CASES = [
    ("Europe/Berlin", date(2026, 10, 20)),  # last Sundays of March and October
    ("Australia/Sydney", date(2026, 6, 1)),  # southern hemisphere: first Sundays of April and October
    ("America/New_York", date(2026, 6, 1)),
    ("Pacific/Chatham", date(2026, 6, 1)),  # +12:45 / +13:45
    ("Asia/Jerusalem", date(2026, 6, 1)),  # Friday on or after March 23
    ("America/Sao_Paulo", date(2019, 6, 1)),  # DST abolished in 2019
    ("Asia/Tehran", date(2022, 9, 1)),  # last DST in 2022
    ("Africa/Casablanca", date(2026, 3, 1)),  # one hour back during Ramadan
    ("Europe/Dublin", date(2026, 6, 1)),  # negative DST in the tz database
    ("Asia/Kolkata", date(2026, 6, 1)),  # no DST at all
]
SETTINGS_YEAR = {"past_weeks": 52, "future_weeks": 12, "alarm_minutes": 15}


def _window(today: date) -> tuple[date, date]:
    return today - timedelta(weeks=52), today + timedelta(weeks=12)


def _instants(zone: str, today: date) -> list[datetime]:
    """Starts around every transition in the window, and a usual evening time every few weeks."""
    tz = ZoneInfo(zone)
    first, last = _window(today)
    starts: set[datetime] = set()
    found, _ = transitions(zone, last.year + 2)
    for change in found:
        local_day = change.instant.astimezone(tz).date()
        if first + timedelta(days=2) <= local_day <= last - timedelta(days=2):
            for minutes in (-150, -90, -45, -1, 0, 1, 30, 61, 150, 24 * 60):
                starts.add(change.instant + timedelta(minutes=minutes))
            for days in (-1, 0, 1):
                day = local_day + timedelta(days=days)
                starts.add(datetime(day.year, day.month, day.day, 18, 30, tzinfo=tz).astimezone(UTC))
    day = first + timedelta(days=1)
    while day < last:
        starts.add(datetime(day.year, day.month, day.day, 18, 30, tzinfo=tz).astimezone(UTC))
        day += timedelta(days=17)
    return sorted(starts)


def _feed(zone: str, today: date) -> tuple[bytes, list[Seen]]:
    tz = ZoneInfo(zone)
    sessions = [
        session(start.astimezone(tz), f"s{i:04d}@runstrong-sync", minutes=35 + (i % 4) * 30)
        for i, start in enumerate(_instants(zone, today))
    ]
    data = build_feed(sessions, FeedSettings(name="x", time_zone=zone, **SETTINGS_YEAR), today)
    expected = sorted(
        Seen(s.uid, s.start.astimezone(UTC), session_end(s), s.title, session_description(s))
        for s in sessions
    )
    return data, expected


@pytest.mark.parametrize(("zone", "today"), CASES, ids=[c[0] for c in CASES])
def test_every_parser_sees_the_same_instants(zone: str, today: date, tmp_path: Path) -> None:
    data, expected = _feed(zone, today)
    assert len(expected) > 20
    readers = {
        "icalendar": read_icalendar(data),
        "vobject": read_vobject(data),
        "ha-ical": read_ha_ical(data),
        "ical.js": read_icaljs(data, tmp_path),
    }
    for name, seen in readers.items():
        wrong = [(e, s) for e, s in zip(expected, seen, strict=False) if e != s]
        assert len(seen) == len(expected), name
        assert not wrong, f"{name} differs on {len(wrong)} events, first: {wrong[0]}"


@pytest.mark.parametrize(("zone", "today"), CASES, ids=[c[0] for c in CASES])
def test_vtimezone_alone_gives_the_zone_offsets(zone: str, today: date) -> None:
    """The VTIMEZONE, read without the zone database, has the IANA offset at every instant."""
    data, _ = _feed(zone, today)
    calendar = icalendar.Calendar.from_ical(data)
    (component,) = calendar.walk("VTIMEZONE")
    assert not [line for line in unfold(data) if line.startswith("RDATE")]
    from_component = component.to_tz(lookup_tzid=False)
    tz = ZoneInfo(zone)
    first, last = _window(today)
    instant = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    checked = []
    found, _ = transitions(zone, last.year + 2)
    for change in found:
        if instant <= change.instant <= end:
            checked += [
                change.instant - timedelta(seconds=1),
                change.instant,
                change.instant + timedelta(minutes=1),
            ]
    while instant < end:
        checked.append(instant)
        instant += timedelta(hours=5)
    for moment in checked:
        assert moment.astimezone(from_component).utcoffset() == moment.astimezone(tz).utcoffset(), moment


@pytest.mark.parametrize(("zone", "all_day"), [("UTC", False), ("UTC", True), ("Australia/Sydney", True)])
def test_utc_and_all_day_feeds_read_the_same_everywhere(zone: str, all_day: bool, tmp_path: Path) -> None:
    tz = ZoneInfo(zone)
    starts = [datetime(2026, 4, 4, 23, 30, tzinfo=tz), datetime(2026, 4, 5, 2, 30, tzinfo=tz)]
    sessions = [session(start, f"d{i}@runstrong-sync") for i, start in enumerate(starts)]
    data = build_feed(sessions, FeedSettings(name="x", time_zone=zone, all_day=all_day), date(2026, 4, 1))
    if all_day:
        expected = [(s.start.date(), s.start.date() + timedelta(days=1)) for s in sessions]
    else:
        expected = [(s.start.astimezone(UTC), session_end(s)) for s in sessions]
    for reader in (read_icalendar, read_vobject, read_ha_ical):
        assert [(s.start, s.end) for s in reader(data)] == expected, reader.__name__
    assert [(s.start, s.end) for s in read_icaljs(data, tmp_path)] == expected


@pytest.mark.slow
def test_vtimezone_of_every_iana_zone_matches_the_zone_database() -> None:
    """Every zone the machine knows, over one window: the VTIMEZONE read back by icalendar (its
    own RRULE evaluation, not the zone database) gives the IANA offset around every change."""
    first, last = date(2025, 11, 1), date(2027, 2, 1)
    start = datetime(2025, 11, 1, tzinfo=UTC)
    end = datetime(2027, 2, 1, tzinfo=UTC)
    wrong = []
    names = sorted(n for n in available_timezones() if not n.startswith(("posix/", "right/")))
    for name in names:
        if name in ("Factory", "localtime"):
            continue
        calendar = icalendar.Calendar()
        calendar.add_component(vtimezone(name, first, last))
        (component,) = icalendar.Calendar.from_ical(calendar.to_ical()).walk("VTIMEZONE")
        from_component = component.to_tz(lookup_tzid=False)
        tz = ZoneInfo(name)
        moments = [start, end, start + (end - start) / 2]
        for change in transitions(name, last.year + 2)[0]:
            if start <= change.instant <= end:
                moments += [
                    change.instant - timedelta(seconds=1),
                    change.instant,
                    change.instant + timedelta(hours=3),
                ]
        for moment in moments:
            if moment.astimezone(from_component).utcoffset() != moment.astimezone(tz).utcoffset():
                wrong.append((name, moment))
                break
    assert len(names) > 300
    assert not wrong
