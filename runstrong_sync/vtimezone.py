"""VTIMEZONE components written as yearly rules (RRULE), derived from the IANA database.

Outlook maps a VTIMEZONE to one of its own zones by its rules and mis-maps the long RDATE
lists that icalendar's ``Timezone.from_tzid`` writes, so the offsets here are read from
``zoneinfo`` and written the way a tz compiler would: each run of yearly transitions that
follow one rule ("last Sunday of October at 03:00") becomes one STANDARD or DAYLIGHT
component with an RRULE; a transition that follows no yearly rule becomes a component with
a single onset; a zone without transitions gets one STANDARD component with equal offsets.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard

FIRST_YEAR = 1970  # onsets before this are never needed: no event is that old
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# A rule for the day of a transition within its month, in order of preference (Outlook and
# Windows express rules as "n-th or last weekday of the month", so those come first).
Pattern = tuple[str, int, int]  # ("nth", n, weekday) | ("last", 0, weekday) | ("onafter", day, weekday)
#                                 | ("fixed", day, 0)


@dataclass(frozen=True, slots=True)
class Transition:
    instant: datetime  # UTC
    offset_from: timedelta
    offset_to: timedelta
    daylight: bool  # the new period is daylight saving time
    name: str  # abbreviation of the new period, e.g. CEST

    @property
    def onset(self) -> datetime:
        """Local wall-clock time of the change, in the offset before it (RFC 5545 3.6.5)."""
        return (self.instant + self.offset_from).replace(tzinfo=None)

    @property
    def signature(self) -> tuple[bool, timedelta, timedelta, str, int, tuple[int, int, int]]:
        onset = self.onset
        return (
            self.daylight,
            self.offset_from,
            self.offset_to,
            self.name,
            onset.month,
            (onset.hour, onset.minute, onset.second),
        )


@dataclass(slots=True)
class Observance:
    """One STANDARD or DAYLIGHT component: a first onset and, for a run, a yearly rule."""

    transitions: list[Transition]
    patterns: set[Pattern]

    @property
    def first(self) -> Transition:
        return self.transitions[0]

    @property
    def last(self) -> Transition:
        return self.transitions[-1]


def _state(zone: ZoneInfo, instant: datetime) -> tuple[timedelta, timedelta, str]:
    local = instant.astimezone(zone)
    return local.utcoffset() or timedelta(0), local.dst() or timedelta(0), local.tzname() or ""


def _is_daylight(before: tuple[timedelta, timedelta, str], after: tuple[timedelta, timedelta, str]) -> bool:
    """Summer time. Zones with a negative DST (Europe/Dublin's winter) call summer standard, but
    calendar programs expect the period with the larger offset of a pair to be DAYLIGHT."""
    return after[1] > timedelta(0) or (after[1] == timedelta(0) and before[1] < timedelta(0))


@functools.lru_cache(maxsize=64)
def transitions(tzid: str, last_year: int) -> tuple[tuple[Transition, ...], tuple[timedelta, timedelta, str]]:
    """Every change of offset, DST flag or abbreviation from 1970 to the end of ``last_year``,
    and the state in force at the start of 1970.

    ``zoneinfo`` does not list its transitions, so the zone is probed once a day and each change
    is narrowed to the second; two changes less than a day apart (none since 1970 in the tz
    database) would be seen as one.
    """
    zone = ZoneInfo(tzid)
    step = timedelta(days=1)
    instant = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    initial = state = _state(zone, instant)
    found: list[Transition] = []
    while instant < end:
        following = instant + step
        new_state = _state(zone, following)
        if new_state != state:
            low, high = instant, following  # state(low) is old, state(high) is new
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _state(zone, middle) == state:
                    low = middle
                else:
                    high = middle
            daylight = _is_daylight(state, new_state)
            found.append(Transition(high, state[0], new_state[0], daylight, new_state[2]))
            state = new_state
        instant = following
    return tuple(found), initial


def _patterns(day: date) -> set[Pattern]:
    weekday = day.weekday()
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    found: set[Pattern] = {("fixed", day.day, 0)}
    if day.day <= 28:
        found.add(("nth", (day.day - 1) // 7 + 1, weekday))
    if day.day > days_in_month - 7:
        found.add(("last", 0, weekday))
    for first in range(max(1, day.day - 6), day.day + 1):
        if first + 6 <= days_in_month:
            found.add(("onafter", first, weekday))
    return found


def _preferred(patterns: set[Pattern]) -> Pattern:
    order = {"nth": 0, "last": 1, "onafter": 2, "fixed": 3}
    return min(patterns, key=lambda p: (order[p[0]], p[1], p[2]))


def observances(found: tuple[Transition, ...]) -> list[Observance]:
    """Group transitions into yearly runs that share one rule; the rest stand alone.

    Runs grow from the newest transition backwards, so the rule in force now is the longest.
    """
    done: list[Observance] = []
    open_runs: dict[object, Observance] = {}
    for transition in reversed(found):
        key = transition.signature
        candidates = _patterns(transition.onset.date())
        run = open_runs.get(key)
        if run is not None:
            common = run.patterns & candidates
            if transition.onset.year == run.first.onset.year - 1 and common:
                run.transitions.insert(0, transition)
                run.patterns = common
                continue
            done.append(open_runs.pop(key))
        open_runs[key] = Observance([transition], candidates)
    done.extend(open_runs.values())
    done.sort(key=lambda o: o.first.instant)
    return done


@functools.lru_cache(maxsize=64)
def _zone_observances(tzid: str, last_year: int) -> tuple[Observance, ...]:
    return tuple(observances(transitions(tzid, last_year)[0]))


def _rrule(observance: Observance, open_ended: bool) -> dict[str, object]:
    kind, number, weekday = _preferred(observance.patterns)
    rule: dict[str, object] = {"FREQ": "YEARLY"}
    if not open_ended:
        # A day after the last onset: readers that compare UNTIL with local times (dateutil,
        # and so vobject and icalendar's to_tz) would otherwise drop that last onset.
        rule["UNTIL"] = observance.last.instant + timedelta(days=1)
    rule["BYMONTH"] = observance.first.onset.month
    if kind == "nth":
        rule["BYDAY"] = f"{number}{WEEKDAYS[weekday]}"
    elif kind == "last":
        rule["BYDAY"] = f"-1{WEEKDAYS[weekday]}"
    elif kind == "onafter":
        rule["BYMONTHDAY"] = list(range(number, number + 7))
        rule["BYDAY"] = WEEKDAYS[weekday]
    else:
        rule["BYMONTHDAY"] = number
    return rule


def _format_offset(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{secs:02d}" if secs else "")


def _component(
    daylight: bool, onset: datetime, offset_from: timedelta, offset_to: timedelta, name: str
) -> TimezoneStandard | TimezoneDaylight:
    component = TimezoneDaylight() if daylight else TimezoneStandard()
    component.add("dtstart", onset)
    # Written as text: icalendar drops the seconds of historic offsets such as +005328.
    component["TZOFFSETFROM"] = _format_offset(offset_from)
    component["TZOFFSETTO"] = _format_offset(offset_to)
    if name:
        component.add("tzname", name)
    return component


def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE for ``tzid`` that is exact for every instant from ``first`` to ``last``.

    Components that matter within a year either side are kept, so the output stays the same
    from day to day while the zone's rules stay the same.
    """
    initial = transitions(tzid, last.year + 2)[1]
    window_start = datetime.combine(first - timedelta(days=366), datetime.min.time(), tzinfo=UTC)
    window_end = datetime.combine(last + timedelta(days=366), datetime.min.time(), tzinfo=UTC)
    final_year = last.year + 2
    timezone = Timezone()
    timezone.add("tzid", tzid)
    timezone.add("x-lic-location", tzid)
    runs = _zone_observances(tzid, last.year + 2)
    in_force = [o for o in runs if any(t.instant <= window_start for t in o.transitions)]
    latest_before = max(
        in_force,
        key=lambda o: max(t.instant for t in o.transitions if t.instant <= window_start),
        default=None,
    )
    kept = [
        o
        for o in runs
        if o is latest_before or any(window_start < t.instant <= window_end for t in o.transitions)
    ]
    if latest_before is None:
        # Nothing changed between 1970 and the window: the 1970 state holds from then on.
        offset, dst, name = initial
        timezone.add_component(
            _component(dst > timedelta(0), datetime(FIRST_YEAR, 1, 1), offset, offset, name)
        )
    for observance in kept:
        start = observance.first
        component = _component(start.daylight, start.onset, start.offset_from, start.offset_to, start.name)
        if len(observance.transitions) > 1:
            open_ended = observance.last.onset.year >= final_year
            component.add("rrule", _rrule(observance, open_ended))
        timezone.add_component(component)
    return timezone
