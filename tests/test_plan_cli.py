"""`runstrong-sync plan` end to end: a training plan's feed over HTTP, a real SQLite file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import run_cli

WEEK = [  # (day of December 2026, start UTC, summary)
    ("08", "T060000Z", "Intervals 6 x 800 m"),
    ("09", "T060000Z", "Easy run"),
    ("10", "T060000Z", "Tempo run"),
    ("13", "T080000Z", "Long run"),
    ("15", "T060000Z", "Intervals 5 x 1 km"),
    ("16", "T060000Z", "Easy run"),
    ("17", "T060000Z", "Tempo run"),
    ("20", "T080000Z", "Long run"),
]


def plan_feed(week: list[tuple[str, str, str]]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Example plans//EN"]
    for day, start, summary in week:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{day}@plans.example.org",
            "DTSTAMP:20261201T000000Z",
            f"DTSTART:202612{day}{start}",
            "DURATION:PT1H",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


class _Plan(BaseHTTPRequestHandler):
    body = plan_feed(WEEK)
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def plan_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Plan)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/plan.ics"
    finally:
        server.shutdown()
        server.server_close()
        _Plan.status = 200
        _Plan.body = plan_feed(WEEK)


@pytest.fixture
def configured(env: Path, plan_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "250")
    config = tmp_path / "config.toml"
    config.write_text(
        '[athlete]\ntime_zone = "Europe/Berlin"\nequipment = ["bodyweight", "bands"]\n'
        f'[planner]\nupcoming_runs_ics = "{plan_url}"\n',
        encoding="utf-8",
    )
    return config


def _plan_json(today: str = "2026-12-07") -> list[dict[str, object]]:
    result = run_cli("--today", today, "plan", "--json")
    assert result.exit_code == 0, result.output
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_plan_json_places_sessions_around_the_training_plan(configured: Path) -> None:
    sessions = _plan_json()
    # Intervals Tue, easy Wed, tempo Thu, long Sun: Friday is the only legal day (written out in
    # tests/test_plan_reference.py). (Before: a short core session on the day before the intervals
    # made a second; the runner's rule forbids it.)
    assert [(s["start"], s["kind"]) for s in sessions] == [
        ("2026-12-11T18:30:00+01:00", "full"),
        ("2026-12-18T18:30:00+01:00", "full"),
    ]
    for session in sessions:
        for key in ("uid", "start", "end", "title", "focus", "exercises", "why", "status", "sequence"):
            assert key in session, key
        assert session["status"] == "planned" and session["sequence"] == 0
        assert str(session["uid"]).endswith("@runstrong-sync")
    friday = sessions[0]
    assert "Friday is a rest or cross-training day, the day after a hard run" in str(friday["why"])
    exercises = friday["exercises"]
    assert isinstance(exercises, list) and {e["equipment"] for e in exercises} <= {"bodyweight", "bands"}

    # Nothing new: the same UIDs, the same SEQUENCEs.
    again = _plan_json()
    assert [(s["uid"], s["sequence"], s["start"]) for s in again] == [
        (s["uid"], s["sequence"], s["start"]) for s in sessions
    ]


def test_plan_view_shows_runs_and_explains_days_without_a_session(configured: Path) -> None:
    result = run_cli("--today", "2026-12-07", "plan", "--why")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "hard (planned until 08:00): Intervals 6 x 800 m" in out
    assert "long (planned until 10:00): Long run" in out
    assert "No session: hard-run day (Tempo run, from your training plan)" in out
    assert "No session: the day before a long run (Long run, from your training plan)" in out
    assert "Only 1 session(s) fit this week" in out
    plain = run_cli("--today", "2026-12-07", "plan")
    assert "No session:" not in plain.stdout and "Strength:" in plain.stdout


def test_feed_down_uses_the_last_good_copy(configured: Path) -> None:
    # The last good copy is kept by `sync` (a preview writes nothing, not even that copy).
    assert run_cli("--today", "2026-12-07", "sync").exit_code == 0
    first = _plan_json()
    _Plan.status = 503
    second = run_cli("--today", "2026-12-07", "plan", "--json")
    assert second.exit_code == 0
    assert [s["uid"] for s in json.loads(second.stdout)] == [s["uid"] for s in first]


def test_a_changed_training_plan_changes_the_session_and_raises_sequence(configured: Path) -> None:
    # `plan` only previews; `sync` publishes, and the next sync compares with what was published.
    # (Before: every `plan` saved the plan, so a preview raised SEQUENCE.)
    with configured.open("a", encoding="utf-8") as handle:
        handle.write("hard_days_hard = true\n")  # under [planner]
    assert run_cli("--today", "2026-12-07", "sync").exit_code == 0
    before = {str(s["start"])[:10]: s for s in _plan_json()}
    friday = before["2026-12-11"]
    # The plan turns Saturday the 12th into a tempo run: Friday is now the day before a hard run.
    # Thursday's tempo day takes the session instead (hard days hard, the next day being free).
    _Plan.body = plan_feed([*WEEK, ("12", "T080000Z", "Tempo 4 x 2 km")])
    assert run_cli("--today", "2026-12-08", "sync").exit_code == 0
    after = _plan_json("2026-12-08")
    moved = next(s for s in after if s["uid"] == friday["uid"])
    assert str(moved["start"]).startswith("2026-12-10T12:00") and moved["sequence"] == 1
    assert "Moved from Friday 2026-12-11: the day before a hard run (Tempo 4 x 2 km" in str(moved["why"])
    assert _plan_json("2026-12-08") == after
