"""The runner's time zone when the configuration names none, and where it came from.

In order: the zone Strava gives the runner's activities (``timezone``, "(GMT+09:00) Asia/Tokyo"),
else the machine's zone (``TZ``, else ``/etc/localtime``) when the local times written in the
runner's FIT files agree with it, else the machine's zone all the same. Resolved once per
command, sync or daemon pass, and handed on as a ZoneInfo inside the athlete's configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

CONFIGURED = "configuration"
STRAVA = "the time zone Strava gives your activities"
SYSTEM_CONFIRMED = "this machine's time zone, which the local times in your FIT files confirm"
SYSTEM = "this machine's time zone"
SYSTEM_UNCONFIRMED = "this machine's time zone (the local times in your FIT files say otherwise)"
DEFAULT = "UTC: neither the configuration nor this machine names a time zone"
AGREEMENT = 0.8  # share of files whose offset must match the zone
LOCALTIME = Path("/etc/localtime")


@dataclass(frozen=True, slots=True)
class Observations:
    """What an athlete's newest stored activities say about their zone, counted by the database."""

    # Strava's zone names and how many activities give each, in the order the newest name them
    strava: tuple[tuple[str, int], ...] = ()
    with_offset: int = 0  # activities whose file wrote its own local time (FIT local_timestamp)
    agreeing: Mapping[str, int] = field(default_factory=dict)  # zone -> of those, how many have its offset


@dataclass(frozen=True, slots=True)
class TimeZoneChoice:
    zone: ZoneInfo
    source: str
    mismatch: str | None = None  # the data disagree with the configured zone: why

    @property
    def name(self) -> str:
        return self.zone.key


def strava_zone_name(value: Any) -> str | None:
    """ "(GMT+09:00) Asia/Tokyo" -> "Asia/Tokyo", when it names a known zone."""
    if not isinstance(value, str):
        return None
    name = value.rsplit(")", 1)[-1].strip()
    return name if _zone(name) is not None else None


def system_zone(environ: Mapping[str, str] | None = None, localtime: Path = LOCALTIME) -> ZoneInfo | None:
    environ = os.environ if environ is None else environ
    tz = environ.get("TZ", "").lstrip(":")
    if tz:
        return _zone(tz)
    try:
        target = str(localtime.resolve())
    except OSError:
        return None
    if "zoneinfo/" not in target:
        return None
    return _zone(target.split("zoneinfo/", 1)[1])


UTC_NAMES = frozenset({"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "UCT", "Zulu", "GMT"})


def _zone(name: str) -> ZoneInfo | None:
    if not name or name.startswith(("/", ".")):
        return None
    if name in UTC_NAMES:
        name = "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _agrees(zone: ZoneInfo, observed: Observations) -> float | None:
    """The share of files with their own local time whose offset is the zone's on that day."""
    if not observed.with_offset:
        return None
    return observed.agreeing[zone.key] / observed.with_offset


def _offset_s(zone: ZoneInfo, when: datetime) -> int:
    offset = when.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def choose(configured: str | None, observed: Observations, system: ZoneInfo | None) -> TimeZoneChoice:
    strava = _most_common(observed.strava)
    if configured is not None:
        zone = ZoneInfo(configured)
        return TimeZoneChoice(zone, CONFIGURED, _mismatch(zone, strava, observed))
    if strava is not None:
        return TimeZoneChoice(ZoneInfo(strava[0]), STRAVA)
    if system is None:
        return TimeZoneChoice(ZoneInfo("UTC"), DEFAULT)
    share = _agrees(system, observed)
    if share is None:
        return TimeZoneChoice(system, SYSTEM)
    return TimeZoneChoice(system, SYSTEM_CONFIRMED if share >= AGREEMENT else SYSTEM_UNCONFIRMED)


def _most_common(strava: Sequence[tuple[str, int]]) -> tuple[str, int, int] | None:
    """Strava's most given zone (the newest named first among equals), its count and the total."""
    if not strava:
        return None
    name, count = max(strava, key=lambda item: item[1])  # max keeps the first of equals
    return name, count, sum(c for _, c in strava)


def _mismatch(zone: ZoneInfo, strava: tuple[str, int, int] | None, observed: Observations) -> str | None:
    if strava is not None:
        name, count, total = strava
        if name != zone.key and count >= AGREEMENT * total:
            return f"Strava places your activities in {name}"
    share = _agrees(zone, observed)
    if share is not None and share < 1 - AGREEMENT:
        return "the local times in your FIT files do not match it"
    return None


def zone_columns(source: str, utc_offset_s: int, raw: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """What the detection reads of a stored activity, kept in columns beside its raw payload:
    Strava's zone for a Strava activity, the UTC offset a file wrote itself (else None)."""
    if source == "strava":
        return strava_zone_name(raw.get("timezone")), None
    if raw.get("offset_from") == "file":
        return None, utc_offset_s
    return None, None


STEP = timedelta(days=1)  # no zone changes its offset twice within a day


def offset_periods(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offsets from ``start`` (aware) to ``end``: (from when, offset in seconds), the
    first from ``start`` floored to the day; each change found to the second."""
    when = start.replace(hour=0, minute=0, second=0, microsecond=0)
    periods = [(when, _offset_s(zone, when))]
    while when <= end:
        after = when + STEP
        offset = _offset_s(zone, after)
        if offset != periods[-1][1]:
            periods.append((_change(zone, when, after), offset))
        when = after
    return periods


def _change(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first second at which the zone's offset is the one it has at ``after``."""
    old = _offset_s(zone, before)
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) // 2
        middle = middle.replace(microsecond=0)
        if _offset_s(zone, middle) == old:
            before = middle
        else:
            after = middle
    return after
