"""A training plan's calendar: read from a file or over real HTTP on 127.0.0.1, classified by words."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from runstrong_sync.core.domain import Label
from runstrong_sync.core.expected_runs import (
    classify_planned_event,
    merge_runs,
    planned_runs,
    predict_runs,
)
from runstrong_sync.core.plan import DayRun, PlannedEvent
from runstrong_sync.upcoming import UpcomingRunsError, read_upcoming

ZONE = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 12, 7)

PLAN_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Training Plans//EN
BEGIN:VEVENT
UID:run-1@example.org
DTSTAMP:20261201T080000Z
DTSTART:20261208T060000Z
DTEND:20261208T070000Z
SUMMARY:Intervals: 6 x 800 m
DESCRIPTION:Warm up 15 min\\, 6 x 800 m at 5K pace with 90 s rest\\, cool down.
END:VEVENT
BEGIN:VEVENT
UID:run-2@example.org
DTSTAMP:20261201T080000Z
DTSTART;TZID=Europe/Berlin:20261209T071500
DURATION:PT45M
SUMMARY:Easy Run
END:VEVENT
BEGIN:VEVENT
UID:run-3@example.org
DTSTAMP:20261201T080000Z
DTSTART;VALUE=DATE:20261210
SUMMARY:Rest day
END:VEVENT
BEGIN:VEVENT
UID:run-4@example.org
DTSTAMP:20261201T080000Z
DTSTART;VALUE=DATE:20261213
SUMMARY:Long Run
DESCRIPTION:100 min conversational\\, last 10 min at marathon pace
END:VEVENT
BEGIN:VEVENT
UID:run-5@example.org
DTSTAMP:20261201T080000Z
DTSTART:20261211T170000Z
DTEND:20261211T180000Z
STATUS:CANCELLED
SUMMARY:Tempo run
END:VEVENT
BEGIN:VEVENT
UID:run-6@example.org
DTSTAMP:20261201T080000Z
DTSTART:20260101T170000Z
DTEND:20260101T180000Z
SUMMARY:Tempo run (long ago)
END:VEVENT
END:VCALENDAR
"""


class _Feed(BaseHTTPRequestHandler):
    body = PLAN_ICS.replace("\n", "\r\n").encode()
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/plan.ics"
    finally:
        server.shutdown()
        server.server_close()
        _Feed.status = 200


@pytest.mark.parametrize(
    ("title", "description", "minutes", "expected"),
    [
        ("Intervals: 6 x 800 m", "", 60, Label.HARD),
        ("Run: 5x1k", "", None, Label.HARD),
        ("Tempo Run", "", 50, Label.HARD),
        ("Threshold 3 x 10 min", "", None, Label.HARD),
        ("Hill repeats", "", None, Label.HARD),
        ("Fartlek", "", None, Label.HARD),
        ("Long Run", "", 120, Label.LONG),
        ("Long run with fast finish", "last 3 km at tempo", None, Label.LONG),
        ("Long intervals 3 x 2 km", "", None, Label.HARD),
        ("Easy Run", "", 40, Label.EASY),
        ("Recovery run", "", 30, Label.EASY),
        ("Easy run + strides", "", 45, Label.EASY),
        ("Run", "Zone 2, conversational", 50, Label.EASY),
        ("Run", "", 100, Label.LONG),
        ("Berlin Marathon", "", None, Label.HARD),
        ("parkrun", "", None, Label.HARD),
        ("Marathon pace run", "", None, Label.HARD),
        ("Run: 45 min", "Rest 2 min between sets", 45, Label.HARD),  # says nothing: planned around as hard
        ("Rest day", "", None, None),
        ("Strength & conditioning", "", None, None),
        ("Yoga", "", None, None),
        ("Bike: endurance ride", "", 90, None),
        ("Swim 2000 m", "", None, None),
        ("Cross-training", "", None, None),
    ],
)
def test_classifies_planned_events_by_their_words(
    title: str, description: str, minutes: float | None, expected: Label | None
) -> None:
    assert classify_planned_event(title, description, minutes) is expected


def test_reads_the_plan_over_http_and_classifies_it(feed_url: str) -> None:
    session = requests.Session()
    events = read_upcoming(feed_url, ZONE, TODAY, http_session=session)
    session.close()
    titles = [e.title for e in events]
    assert titles == ["Intervals: 6 x 800 m", "Easy Run", "Rest day", "Long Run"]  # cancelled, old: out
    runs = planned_runs(events, ZONE)
    assert [(r.day, r.label, r.end) for r in runs] == [
        (date(2026, 12, 8), Label.HARD, time(8, 0)),  # 07:00 UTC is 08:00 in Berlin
        (date(2026, 12, 9), Label.EASY, time(8, 0)),  # 07:15 + 45 min
        (date(2026, 12, 13), Label.LONG, None),  # all day: time unknown
    ]
    assert all(r.expected and r.source == "plan" for r in runs)


def test_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.ics"
    path.write_text(PLAN_ICS, encoding="utf-8")
    assert len(read_upcoming(str(path), ZONE, TODAY)) == 4


def test_errors_name_the_feed_and_what_to_do(feed_url: str, tmp_path: Path) -> None:
    _Feed.status = 404
    with pytest.raises(UpcomingRunsError, match="answered HTTP 404") as caught:
        read_upcoming(feed_url, ZONE, TODAY)
    assert "planner.upcoming_runs_ics" in str(caught.value)
    with pytest.raises(UpcomingRunsError, match="cannot be read"):
        read_upcoming(str(tmp_path / "missing.ics"), ZONE, TODAY)
    page = tmp_path / "page.ics"
    page.write_text("<html>Sign in</html>", encoding="utf-8")
    with pytest.raises(UpcomingRunsError, match="not a valid iCalendar file"):
        read_upcoming(str(page), ZONE, TODAY)
    with pytest.raises(UpcomingRunsError, match="cannot be reached"):
        read_upcoming("http://127.0.0.1:9/plan.ics", ZONE, TODAY)


def test_the_plan_wins_over_the_pattern_on_the_days_it_covers() -> None:
    history = [
        DayRun(date(2026, 11, 10) + timedelta(weeks=k), Label.HARD, hard=True) for k in range(4)
    ]  # four Tuesdays of intervals, the last one last week (a week without runs is a break)
    pattern = predict_runs(history, TODAY, weeks=6)
    assert [(r.day, r.label) for r in pattern] == [
        (date(2026, 12, 8), Label.HARD),
        (date(2026, 12, 15), Label.HARD),
    ]
    plan_runs = planned_runs([PlannedEvent(datetime(2026, 12, 9, 7, 0, tzinfo=ZONE), None, "Easy run")], ZONE)
    merged = merge_runs([], pattern, TODAY, plan_runs)
    # The plan covers only the 9th: the pattern still speaks for the 8th and the 15th.
    assert [(r.day, r.source) for r in merged] == [
        (date(2026, 12, 8), "pattern"),
        (date(2026, 12, 9), "plan"),
        (date(2026, 12, 15), "pattern"),
    ]
    wide = planned_runs(
        [
            PlannedEvent(date(2026, 12, 7), None, "Easy run"),
            PlannedEvent(date(2026, 12, 16), None, "Easy run"),
        ],
        ZONE,
    )
    assert [r.source for r in merge_runs([], pattern, TODAY, wide)] == ["plan", "plan"]


def test_pattern_learns_the_usual_week() -> None:
    runs: list[DayRun] = []
    for week in range(6):
        monday = date(2026, 10, 26).toordinal() + 7 * week
        runs.append(DayRun(date.fromordinal(monday + 1), Label.HARD, hard=True, end=time(7, 30)))
        runs.append(DayRun(date.fromordinal(monday + 3), Label.EASY, hard=False, end=time(19, 0)))
        runs.append(DayRun(date.fromordinal(monday + 6), Label.LONG, hard=False, end=time(11, 0)))
        if week % 3 == 0:
            runs.append(DayRun(date.fromordinal(monday + 5), Label.EASY, hard=False))  # now and then
    predicted = predict_runs(runs, TODAY, weeks=6, horizon_days=7)
    assert [(r.day.weekday(), r.label, r.end) for r in predicted] == [
        (1, Label.HARD, time(7, 30)),
        (3, Label.EASY, time(19, 0)),
        (6, Label.LONG, time(11, 0)),
    ]
    assert predicted[0].title == "usual Tuesday hard run"
    # A long run already done on Saturday this week replaces Sunday's expected one.
    saturday = DayRun(date(2026, 12, 12), Label.LONG, hard=False)
    later = predict_runs([*runs, saturday], date(2026, 12, 13), weeks=6, horizon_days=1)
    assert later == []
