"""The runner's time zone when the configuration names none, and where it came from.

In order: the zone Strava gives the runner's activities (``timezone``, "(GMT+09:00) Asia/Tokyo"),
else the machine's zone (``TZ``, else ``/etc/localtime``) when the local times written in the
runner's FIT files agree with it, else the machine's zone all the same. Resolved once per
command, sync or daemon pass, and handed on as a ZoneInfo inside the athlete's configuration.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
class Observed:
    """What one stored activity says about the runner's zone."""

    start_utc: datetime
    utc_offset_s: int | None  # written in the file (FIT local_timestamp); None if not
    strava_zone: str | None  # Strava's IANA name, if the activity came from Strava


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


def _agrees(zone: ZoneInfo, observed: Sequence[Observed]) -> float | None:
    """The share of files with their own local time whose offset is the zone's on that day."""
    offsets = [o for o in observed if o.utc_offset_s is not None]
    if not offsets:
        return None
    same = sum(_offset_s(zone, o.start_utc) == o.utc_offset_s for o in offsets)
    return same / len(offsets)


def _offset_s(zone: ZoneInfo, when: datetime) -> int:
    offset = when.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def choose(configured: str | None, observed: Sequence[Observed], system: ZoneInfo | None) -> TimeZoneChoice:
    strava = Counter(o.strava_zone for o in observed if o.strava_zone)
    if configured is not None:
        zone = ZoneInfo(configured)
        return TimeZoneChoice(zone, CONFIGURED, _mismatch(zone, strava, observed))
    if strava:
        name = strava.most_common(1)[0][0]
        return TimeZoneChoice(ZoneInfo(name), STRAVA)
    if system is None:
        return TimeZoneChoice(ZoneInfo("UTC"), DEFAULT)
    share = _agrees(system, observed)
    if share is None:
        return TimeZoneChoice(system, SYSTEM)
    return TimeZoneChoice(system, SYSTEM_CONFIRMED if share >= AGREEMENT else SYSTEM_UNCONFIRMED)


def _mismatch(zone: ZoneInfo, strava: Counter[str], observed: Sequence[Observed]) -> str | None:
    if strava:
        name, count = strava.most_common(1)[0]
        if name != zone.key and count >= AGREEMENT * sum(strava.values()):
            return f"Strava places your activities in {name}"
    share = _agrees(zone, observed)
    if share is not None and share < 1 - AGREEMENT:
        return "the local times in your FIT files do not match it"
    return None


def observed_from_rows(rows: Sequence[tuple[datetime, int, str, Mapping[str, Any]]]) -> list[Observed]:
    """(start_utc, utc_offset_s, source, raw payload) of stored activities, newest last."""
    out: list[Observed] = []
    for start, offset, source, raw in rows:
        when = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
        if source == "strava":
            out.append(Observed(when, None, strava_zone_name(raw.get("timezone"))))
        elif raw.get("offset_from") == "file":
            out.append(Observed(when, offset, None))
    return out
