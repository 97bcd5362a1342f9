"""The feed's bytes, checked strictly against RFC 5545 and RFC 7986."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from runstrong_sync.core.domain import SessionStatus
from runstrong_sync.feed import FeedSettings, build_busy_feed, build_feed, session_description
from tests.feedkit import session, sessions_at, unescape, unfold, weekly_sessions

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 25)
SETTINGS = FeedSettings(name="Strength, for running; mine\\ours", time_zone="Europe/Berlin", alarm_minutes=30)


def sample() -> bytes:
    starts = [datetime(2026, 11, 20 + i * 2, 18, 30, tzinfo=BERLIN) for i in range(5)]
    return build_feed(sessions_at(starts), SETTINGS, TODAY)


def properties(data: bytes, name: str) -> list[str]:
    return [line for line in unfold(data) if re.match(rf"{name}[;:]", line)]


def test_lines_end_in_crlf_and_fold_at_75_octets_between_characters() -> None:
    data = sample()
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b"")
    physical = data.split(b"\r\n")[:-1]
    folded = [line for line in physical if line.startswith(b" ")]
    assert folded, "the sample must exercise folding"
    multibyte_folds = 0
    for line in physical:
        assert len(line) <= 75, line
        line.decode("utf-8")  # each physical line holds whole characters
        if line.startswith(b" ") and any(b > 0x7F for b in line):
            multibyte_folds += 1
    assert multibyte_folds > 0, "the sample must fold lines that hold multi-octet characters"


def test_text_is_escaped_and_reads_back_exactly() -> None:
    data = sample()
    (description,) = {line.split(":", 1)[1] for line in properties(data, "DESCRIPTION")[1:2]}
    assert "\\n" in description and "\\;" in description and "\\," in description and "\\\\" in description
    # Once escaped backslashes are gone, every comma and semicolon has its own backslash.
    assert re.search(r"(?<!\\)[;,]", description.replace("\\\\", "")) is None
    first = session(datetime(2026, 11, 20, 18, 30, tzinfo=BERLIN), "x")
    assert unescape(description) == session_description(first)
    (name,) = properties(data, "NAME")
    assert name == "NAME:Strength\\, for running\\; mine\\\\ours"


def test_calendar_properties_of_rfc_5545_and_7986() -> None:
    lines = unfold(sample())
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    for expected in (
        "VERSION:2.0",
        "PRODID:-//runstrong-sync//Strength for runners//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
        "X-PUBLISHED-TTL:PT6H",
        "X-WR-TIMEZONE:Europe/Berlin",
    ):
        assert expected in lines
    assert any(line.startswith("X-WR-CALNAME:") for line in lines)
    assert any(line.startswith("DESCRIPTION:Strength sessions") for line in lines)


def test_uids_unique_tzids_defined_stamps_in_utc() -> None:
    data = build_feed(weekly_sessions(date(2026, 9, 7), 12, "Europe/Berlin"), SETTINGS, TODAY)
    lines = unfold(data)
    uids = [line for line in lines if line.startswith("UID:")]
    assert len(uids) == len(set(uids)) > 10
    defined = {line.removeprefix("TZID:") for line in lines if line.startswith("TZID:")}
    used = set(re.findall(r";TZID=([^;:]+)[;:]", "\n".join(lines)))
    assert used and used <= defined
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        values = [line for line in lines if line.startswith(f"{name}")]
        assert values and all(re.fullmatch(rf"{name}:\d{{8}}T\d{{6}}Z", v) for v in values), values
    assert sum(line == "BEGIN:VEVENT" for line in lines) == len(uids)
    assert sum(line == "BEGIN:VALARM" for line in lines) == len(uids)
    assert "TRIGGER:-PT30M" in lines and "TRANSP:OPAQUE" in lines


def test_vtimezone_is_rrule_style_not_an_rdate_list() -> None:
    lines = unfold(sample())
    start, end = lines.index("BEGIN:VTIMEZONE"), lines.index("END:VTIMEZONE")
    block = lines[start : end + 1]
    assert not any(line.startswith("RDATE") for line in block)
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in block
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in block
    assert block.count("BEGIN:STANDARD") == 1 and block.count("BEGIN:DAYLIGHT") == 1


def test_zone_without_dst_has_one_standard_observance() -> None:
    settings = FeedSettings(name="x", time_zone="Asia/Kolkata")
    start = datetime(2026, 11, 26, 18, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    lines = unfold(build_feed(sessions_at([start]), settings, TODAY))
    block = lines[lines.index("BEGIN:VTIMEZONE") : lines.index("END:VTIMEZONE") + 1]
    assert block.count("BEGIN:STANDARD") == 1 and "BEGIN:DAYLIGHT" not in block
    assert "TZOFFSETFROM:+0530" in block and "TZOFFSETTO:+0530" in block
    assert "DTSTART;TZID=Asia/Kolkata:20261126T183000" in lines


def test_same_input_same_bytes_whatever_the_order() -> None:
    sessions = weekly_sessions(date(2026, 10, 5), 10, "Europe/Berlin")
    assert build_feed(sessions, SETTINGS, TODAY) == build_feed(list(reversed(sessions)), SETTINGS, TODAY)


def test_stamps_are_the_last_change_never_the_clock() -> None:
    changed = datetime(2026, 11, 2, 7, 15, 9, 123456, tzinfo=UTC)
    item = session(datetime(2026, 11, 26, 18, 30, tzinfo=BERLIN), "a@x", sequence=3, changed=changed)
    lines = unfold(build_feed([item], SETTINGS, TODAY))
    assert "DTSTAMP:20261102T071509Z" in lines and "LAST-MODIFIED:20261102T071509Z" in lines
    assert "SEQUENCE:3" in lines


def test_rolling_window_keeps_five_years_under_google_limit() -> None:
    history = weekly_sessions(date(2021, 11, 29), 5 * 52 + 2, "Europe/Berlin")
    year = FeedSettings(name="x", time_zone="Europe/Berlin", past_weeks=52, future_weeks=12)
    data = build_feed(history, year, TODAY)
    starts = [line for line in unfold(data) if line.startswith("DTSTART;TZID")]
    first, last = TODAY - timedelta(weeks=52), TODAY + timedelta(weeks=12)
    assert len(starts) == sum(first <= s.start.date() <= last for s in history) > 150
    assert len(data) < 1_000_000
    short = build_feed(history, SETTINGS, TODAY)
    first, last = TODAY - timedelta(weeks=4), TODAY + timedelta(weeks=2)
    shown = [line for line in unfold(short) if line.startswith("DTSTART;TZID")]
    assert len(shown) == sum(first <= s.start.date() <= last for s in history) > 10


def test_all_day_events_end_on_the_next_day_and_free_when_asked() -> None:
    settings = FeedSettings(name="x", time_zone="Europe/Berlin", all_day=True, busy=False)
    item = session(datetime(2026, 11, 26, 18, 30, tzinfo=BERLIN), "a@x")
    lines = unfold(build_feed([item], settings, TODAY))
    assert "DTSTART;VALUE=DATE:20261126" in lines and "DTEND;VALUE=DATE:20261127" in lines
    assert "TRANSP:TRANSPARENT" in lines


def test_busy_feed_shows_titles_without_details() -> None:
    item = session(datetime(2026, 11, 26, 18, 30, tzinfo=BERLIN), "a@x")
    lines = unfold(build_busy_feed([item], SETTINGS, TODAY))
    assert "UID:busy-a@x" in lines and "SUMMARY:Strength: glutes & calves (35 min)" in lines
    event = lines[lines.index("BEGIN:VEVENT") :]
    assert not any(line.startswith(("DESCRIPTION", "CATEGORIES", "BEGIN:VALARM")) for line in event)
    assert "TRANSP:OPAQUE" in event


def test_done_sessions_say_so() -> None:
    item = session(datetime(2026, 11, 24, 18, 30, tzinfo=BERLIN), "a@x")
    done = type(item)(**{**{f: getattr(item, f) for f in item.__slots__}, "status": SessionStatus.DONE})
    lines = unfold(build_feed([done], SETTINGS, TODAY))
    assert "SUMMARY:Done - Strength: glutes & calves (35 min)" in lines


@pytest.mark.parametrize("minutes", [30, 90])
def test_second_pass_of_a_repeated_hour_is_written_in_utc(minutes: int) -> None:
    # 2026-10-25 02:30 happens twice in Berlin; the second one cannot be named on the wall clock.
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    item = session(second, "a@x", minutes=minutes)
    lines = unfold(build_feed([item], SETTINGS, date(2026, 10, 24)))
    assert "DTSTART:20261025T013000Z" in lines
    end = second + timedelta(minutes=minutes)
    assert any(line.startswith("DTEND") for line in lines)
    assert (
        f"DTEND:{end:%Y%m%dT%H%M%SZ}" in lines
        or f"DTEND;TZID=Europe/Berlin:{end.astimezone(BERLIN):%Y%m%dT%H%M%S}" in lines
    )
