"""Text from outside, cleaned once where it enters: Strava names (the fake server), GPX/TCX names and
notes, a Strava export's names beside a FIT file, a training plan's calendar titles. The feeds must
pass strict RFC 5545 checks, the terminal must never receive an ESC byte, the page escapes."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from runstrong_sync import labelling, pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.text import MAX_TEXT, clean_text
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from tests.fakestrava import FakeStrava, make_activity, serve
from tests.feedkit import read_icalendar, read_vobject
from tests.strava_helpers import NOW, cli_env, connect, sync
from tests.support import FIT, free_port, run_main

C0 = "".join(chr(c) for c in range(0x20))
C1 = "".join(chr(c) for c in range(0x80, 0xA0))
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b[31mred\x1b[0m\x9b1m"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
HOSTILE = f"Tempo {C0}{C1}\x7f{ESCAPES}{BIDI}<script>alert(1)</script> \ud800 end"
LONG = "x" * 10_240
FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def is_clean(text: str | None) -> bool:
    return text is None or (FORBIDDEN.search(text.replace("\n", "")) is None and len(text) <= MAX_TEXT)


def assert_strict_rfc5545(data: bytes) -> None:
    """Every line CRLF-terminated and at most 75 octets; no control character but HTAB in a line;
    no bidi override; and independent parsers read it."""
    assert data.endswith(b"\r\n")
    for line in data.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        text = line.decode("utf-8")  # folded between characters, so every line is whole UTF-8
        assert FORBIDDEN.search(text) is None, line
    assert read_icalendar(data) is not None
    assert read_vobject(data) is not None


def test_clean_text_removes_every_control_and_caps_the_length() -> None:
    cleaned = clean_text(HOSTILE + LONG)
    assert is_clean(cleaned) and cleaned.startswith("Tempo \t\n")
    assert "\x1b" not in cleaned and "\ufffd" in cleaned and "[2J" in cleaned
    assert len(cleaned) == MAX_TEXT and cleaned.endswith("…")
    assert clean_text("line\r\nbreak") == "line\nbreak"
    assert clean_text(cleaned) == cleaned  # applying it twice changes nothing


@pytest.fixture
def fake() -> Iterator[FakeStrava]:
    yield from serve(FakeStrava())


def runs_config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "athlete": {"time_zone": "Europe/Berlin", "threshold_pace": "4:15"},
        "data_dir": str(tmp_path / "data"),
        "database": {"url": f"sqlite:///{tmp_path / 'runstrong.sqlite'}"},
        "feed": {"path": str(tmp_path / "feed.ics"), "runs_feed": True, "busy_only_feed": True},
        **extra,
    }


def check_feeds(db: Any, config: Config, at: datetime = NOW) -> None:
    athlete = pipeline.athlete_id(db, config, NOW)
    with db.transaction() as session:
        names = [row.name for row in repo.activity_rows(session, athlete)]
    assert names and all(is_clean(name) for name in names), names
    labelling.relabel(db, athlete, config, at)
    publishing.publish(db, athlete, config, at)
    files = publishing.feed_files(config)
    assert set(files) == {"strength", "runs", "busy"}
    for path in files.values():
        assert_strict_rfc5545(path.read_bytes())
    assert b"Tempo" in files["runs"].read_bytes()


def test_strava_names_are_cleaned_and_the_feeds_stay_strict(tmp_path: Path, fake: FakeStrava) -> None:
    base = Config.model_validate(runs_config(tmp_path))
    strava = {
        "enabled": True,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "api_base_url": fake.url,
    }
    config = Config.model_validate(
        runs_config(tmp_path, sources={"fit": {"enabled": False}, "strava": strava})
    )
    assert base.feed.runs_feed
    fake.add(make_activity(1, NOW.replace(hour=5) - timedelta(days=1), name=HOSTILE))
    fake.add(make_activity(2, NOW.replace(hour=5) - timedelta(days=2), name="Tempo " + LONG))
    db = connect(config, fake)
    sync(db, config, fake)
    check_feeds(db, config)
    env = cli_env(tmp_path, fake, config)
    env["RUNSTRONG_DATABASE_URL"] = config.database_url
    for command in (("activities",), ("activities", "--json"), ("plan",), ("week",), ("status",)):
        result = run_main(*command, env=env)
        assert result.returncode in (0, 5), result.stderr
        assert "\x1b" not in result.stdout + result.stderr, command


def hostile_files(folder: Path) -> list[Path]:
    """A GPX track name and a TCX note with what XML lets through; a Strava export's CSV names a
    FIT file with everything else (NUL, ESC, BEL...)."""
    folder.mkdir()
    xml_safe = f"Tempo \t\r\n{C1}\x7f{BIDI}<b>&amp;</b> {LONG}".replace("<b>", "&lt;b&gt;")
    xml_safe = xml_safe.replace("</b>", "&lt;/b&gt;")
    gpx = (FIT / "gpx_tcx/garmin_example.gpx").read_text(encoding="utf-8")
    (folder / "hostile.gpx").write_text(gpx.replace("Mannheim Running", xml_safe, 1), encoding="utf-8")
    tcx = (FIT / "gpx_tcx/test.tcx").read_text(encoding="utf-8")
    (folder / "hostile.tcx").write_text(
        tcx.replace("<Notes>Aerobics", f"<Notes>{xml_safe}", 1), encoding="utf-8"
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Activity ID", "Activity Date", "Activity Name", "Activity Type", "Filename"])
    name = f"Tempo {C0.replace(chr(0), '')}{C1}\x7f{ESCAPES}{BIDI}"
    writer.writerow(["4001", "Dec 10, 2020, 6:27:05 AM", name, "Run", "activities/4001.fit.gz"])
    with zipfile.ZipFile(folder / "export_1.zip", "w") as archive:
        archive.writestr("activities.csv", out.getvalue())
        archive.writestr(
            "activities/4001.fit.gz", (FIT / "strava_export/run_with_coordinates.fit.gz").read_bytes()
        )
    return sorted(folder.iterdir())


def test_file_names_and_notes_are_cleaned_and_the_feeds_stay_strict(tmp_path: Path) -> None:
    config = Config.model_validate(runs_config(tmp_path))
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, NOW)
    report = pipeline.import_paths(db, athlete, config, hostile_files(tmp_path / "in"), NOW)
    assert report.created == 3 and not report.rejected, report
    with db.transaction() as session:
        starts = [row.start_utc for row in repo.activity_rows(session, athlete)]
    for start in starts:  # each one inside its own runs feed's window
        check_feeds(db, config, start + timedelta(days=1))


def test_plan_calendar_titles_are_cleaned_for_terminal_page_and_feed(tmp_path: Path) -> None:
    plan = tmp_path / "plan.ics"
    title = f"Tempo {C0.replace(chr(10), '').replace(chr(13), '')}{C1}\x7f{ESCAPES}{BIDI}<script>x</script>"
    plan.write_bytes(
        (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            "UID:hostile-1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261122T070000Z\r\n"
            f"DTEND:20261122T080000Z\r\nSUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        ).encode()
    )
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[athlete]\ntime_zone = "Europe/Berlin"\n'
        f'[planner]\nupcoming_runs_ics = "{plan}"\n[feed]\nruns_feed = true\n',
        encoding="utf-8",
    )
    env = {"RUNSTRONG_CONFIG": str(config_file), "RUNSTRONG_TODAY": NOW.date().isoformat()}
    assert run_main("sync", env=env).returncode == 0
    for command in (("plan",), ("week",), ("plan", "--json")):
        result = run_main(*command, env=env)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout + result.stderr, command
    assert "Tempo" in run_main("week", env=env).stdout
    for feed in (tmp_path / "data").glob("*.ics"):
        assert_strict_rfc5545(feed.read_bytes())

    from runstrong_sync.config import load_config
    from runstrong_sync.server import create_app
    from runstrong_sync.server.run import serve_in_thread

    loaded = load_config(config_file)
    db = open_database(loaded.database_url)
    with db.transaction() as session:
        token = repo.feed_token(session, pipeline.athlete_id(db, loaded, NOW))
    port = free_port()
    server = serve_in_thread(create_app(loaded, db, clock=lambda: NOW), "127.0.0.1", port)
    try:
        page = requests.get(f"http://127.0.0.1:{port}/feed/{token}/", timeout=10).text
    finally:
        server.stop()
    assert "Tempo" in page and "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert FORBIDDEN.search(page.replace("\n", "")) is None
