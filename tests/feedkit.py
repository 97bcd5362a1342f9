"""Shared pieces of the feed tests: sample sessions, and four independent readers of a feed.

Each reader returns the events as ``Seen`` tuples with UTC instants, so the tests can check
that icalendar, vobject, Home Assistant's ``ical`` and Mozilla's ical.js all agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from ical.calendar_stream import IcsCalendarStream

from runstrong_sync.core.domain import Exercise, StrengthSession
from tests.support import ROOT

JS_DIR = ROOT / "tests" / "js"

EXERCISES = (
    Exercise(
        "Split squat",
        "single_leg",
        3,
        reps=8,
        per_side=True,
        rest_s=60,
        cue="Knie über dem Fuß; Hüfte tief, Rücken gerade — slow down, 3 s",
    ),
    Exercise("Calf raise", "calves", 3, reps=15, rest_s=45, cue="Full range, pause at the top"),
    Exercise("Side plank", "core", 2, hold_s=30, per_side=True, rest_s=30, cue="Stack the hips; breathe"),
)
WHY = "Rest day after Tuesday's intervals, 2 days before Sunday's long run; \"glutes, calves\" \\ 力量 💪"


def session(
    start: datetime, uid: str, *, sequence: int = 0, changed: datetime | None = None, minutes: int = 35
) -> StrengthSession:
    return StrengthSession(
        uid=uid,
        start=start,
        duration_min=minutes,
        focus=("glutes", "calves"),
        exercises=EXERCISES,
        why=WHY,
        sequence=sequence,
        changed_at=changed or datetime(2026, 1, 5, 3, 30, tzinfo=UTC),
    )


def sessions_at(starts: list[datetime]) -> list[StrengthSession]:
    return [session(start, f"default-{i:03d}@runstrong-sync") for i, start in enumerate(starts)]


def weekly_sessions(first: date, weeks: int, zone: str) -> list[StrengthSession]:
    """Three sessions a week (Monday, Wednesday, Friday at 18:30) for ``weeks`` weeks."""
    tz = ZoneInfo(zone)
    out = []
    for week in range(weeks):
        for slot, weekday in enumerate((0, 2, 4)):
            day = first + timedelta(weeks=week, days=weekday)
            start = datetime(day.year, day.month, day.day, 18, 30, tzinfo=tz)
            out.append(session(start, f"default-{day.isoformat()}-{slot}@runstrong-sync"))
    return out


@dataclass(frozen=True, order=True)
class Seen:
    uid: str
    start: datetime | date
    end: datetime | date
    summary: str
    description: str | None


def _utc(value: datetime | date) -> datetime | date:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"floating time {value}"
        return value.astimezone(UTC)
    return value


def read_icalendar(data: bytes) -> list[Seen]:
    calendar = icalendar.Calendar.from_ical(data)
    return sorted(
        Seen(
            str(e["UID"]),
            _utc(e.decoded("DTSTART")),
            _utc(e.decoded("DTEND")),
            str(e["SUMMARY"]),
            str(e["DESCRIPTION"]) if "DESCRIPTION" in e else None,
        )
        for e in calendar.walk("VEVENT")
    )


def read_vobject(data: bytes) -> list[Seen]:
    calendar = vobject.readOne(data.decode("utf-8"))
    return sorted(
        Seen(
            e.uid.value,
            _utc(e.dtstart.value),
            _utc(e.dtend.value),
            e.summary.value,
            e.description.value if hasattr(e, "description") else None,
        )
        for e in getattr(calendar, "vevent_list", [])
    )


def read_ha_ical(data: bytes) -> list[Seen]:
    calendar = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    return sorted(
        Seen(e.uid or "", _utc(e.dtstart), _utc(e.dtend or e.dtstart), e.summary or "", e.description)
        for e in calendar.events
    )


def node_ready() -> bool:
    return shutil.which("node") is not None and (JS_DIR / "node_modules" / "ical.js").is_dir()


def read_icaljs(data: bytes, tmp_path: Path) -> list[Seen]:
    if not node_ready():
        message = "ical.js is not installed: run `npm ci --prefix tests/js` (and have node on PATH)"
        if os.environ.get("RUNSTRONG_REQUIRE_NODE"):
            pytest.fail(message)
        pytest.skip(message)
    path = tmp_path / "feed-for-icaljs.ics"
    path.write_bytes(data)
    result = subprocess.run(
        ["node", str(JS_DIR / "read_feed.mjs"), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = []
    for e in json.loads(result.stdout)["events"]:

        def when(text: str) -> datetime | date:
            if len(text) == 10:
                return date.fromisoformat(text)
            return datetime.fromisoformat(text.replace("Z", "+00:00"))

        out.append(Seen(e["uid"], when(e["start"]), when(e["end"]), e["summary"], e["description"]))
    return sorted(out)


def unfold(data: bytes) -> list[str]:
    """The logical content lines (RFC 5545 3.1)."""
    return data.decode("utf-8").replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")[:-1]


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            out.append("\n" if following in "nN" else following)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)
