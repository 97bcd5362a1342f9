"""The week at a glance: the terminal view and the page, on the demo's fixture weeks."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from runstrong_sync.config import load_config
from runstrong_sync.server.app import create_app
from runstrong_sync.server.run import serve_in_thread
from runstrong_sync.storage.db import open_database
from runstrong_sync.storage.models import Athlete
from tests.support import run_main

TODAY = "2026-11-19"  # a Thursday inside the sample: done runs this week, expected ones next week
ZONE = ZoneInfo("Europe/Berlin")
OUTPUT = Path(os.environ.get("RUNSTRONG_TEST_OUTPUT", Path(__file__).resolve().parents[1] / "test-output"))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("demo")
    config = out / "config.toml"
    config.write_text(
        '[athlete]\nname = "Demo runner"\ntime_zone = "Europe/Berlin"\nthreshold_hr = 168\nmax_hr = 188\n'
        'threshold_pace = "4:15"\nequipment = ["bodyweight", "bands", "dumbbells"]\n'
        f'[database]\nurl = "sqlite:///{out}/runstrong.sqlite"\n[feed]\npath = "{out}/runstrong.ics"\n',
        encoding="utf-8",
    )
    env = {"RUNSTRONG_CONFIG": str(config), "RUNSTRONG_TODAY": TODAY}
    demo_folder = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
    staged = out / "files"
    staged.mkdir()
    for path in sorted(demo_folder.glob("*.fit")):
        if path.name[:10] <= TODAY:
            shutil.copy(path, staged / path.name)
    result = run_main("import", str(staged), env=env)
    assert result.returncode == 0, result.stderr
    yield out, config


def _week(config: Path) -> str:
    result = run_main(
        "week", env={"RUNSTRONG_CONFIG": str(config), "RUNSTRONG_TODAY": TODAY, "COLUMNS": "160"}
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_terminal_week_shows_labels_sessions_and_load(demo_db: tuple[Path, Path]) -> None:
    text = _week(demo_db[1])
    lines = text.splitlines()
    # This week: intervals on Tuesday 17th, easy Wednesday and Thursday.
    tuesday = next(i for i, line in enumerate(lines) if "Tue 17 Nov" in line)
    assert "[HARD]" in lines[tuesday]
    wednesday = next(i for i, line in enumerate(lines) if "Wed 18 Nov" in line)
    assert "[EASY]" in lines[wednesday]
    assert "This week (16 Nov – 22 Nov)" in text and "Next week (23 Nov – 29 Nov)" in text
    # Sunday's long run is expected from the pattern; no strength the day before it.
    saturday = next(line for line in lines if "Sat 21 Nov" in line)
    assert "the day before a long run" in saturday
    assert "[STRENGTH]" in text and "Why:" in text
    assert "Running load, last four weeks" in text


class _Days(HTMLParser):
    """Collects, per day section, the labels of its run blocks and the count of its sessions."""

    def __init__(self) -> None:
        super().__init__()
        self.days: dict[str, dict[str, list[str]]] = {}
        self._day: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("data-day"):
            self._day = values["data-day"]
            self.days[self._day] = {"runs": [], "sessions": []}
        elif self._day and values.get("data-kind") == "run":
            self.days[self._day]["runs"].append(values.get("data-label") or "")
        elif self._day and values.get("data-kind") == "session":
            self.days[self._day]["sessions"].append(values.get("data-uid") or "")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def page_server(demo_db: tuple[Path, Path]) -> Iterator[tuple[str, str]]:
    _, config_path = demo_db
    config = load_config(config_path, environ={})
    db = open_database(config.database_url)
    with db.transaction() as session:
        token = session.query(Athlete.feed_token).scalar()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    clock = lambda: datetime(2026, 11, 19, 7, 0, tzinfo=ZONE)  # noqa: E731
    app = create_app(config, db, clock=clock)
    server = serve_in_thread(app, "127.0.0.1", port)
    yield base, token
    server.stop()
    db.dispose()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium_args(profile: Path) -> list[str]:
    binary = _chromium()
    assert binary is not None
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={profile}",
    ]


needs_chromium = pytest.mark.skipif(
    _chromium() is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)


@needs_chromium
def test_page_in_headless_chromium_shows_the_fixture_weeks(
    page_server: tuple[str, str], tmp_path: Path
) -> None:
    base, token = page_server
    url = f"{base}/feed/{token}/"
    dom = subprocess.run(
        [*_chromium_args(tmp_path / "profile"), "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    days = _Days()
    days.feed(dom)
    assert len(days.days) == 14
    assert days.days["2026-11-17"]["runs"] == ["hard"]  # intervals
    assert days.days["2026-11-18"]["runs"] == ["easy"]
    assert days.days["2026-11-22"]["runs"] == ["long"]  # expected from the pattern
    assert days.days["2026-11-21"]["sessions"] == []  # the day before the long run
    session_days = [d for d, v in days.days.items() if v["sessions"]]
    assert session_days, "no strength session on the page"
    for day in session_days:
        assert not days.days[day]["runs"] or set(days.days[day]["runs"]) <= {"easy", "other"}
    assert "Demo runner" in dom and "webcal://" in dom and "calendar.google.com" in dom
    assert re.search(r"<svg[^>]*role=\"img\"", dom)

    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "week-page.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            *_chromium_args(tmp_path / "profile2"),
            "--window-size=1280,1900",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 10_000
    phone = OUTPUT / "week-page-phone.png"
    subprocess.run(
        [
            *_chromium_args(tmp_path / "profile3"),
            "--window-size=390,2400",
            "--hide-scrollbars",
            f"--screenshot={phone}",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert phone.stat().st_size > 10_000


def test_wrong_token_shows_nothing_of_the_athlete(page_server: tuple[str, str]) -> None:
    base, token = page_server
    wrong = token[:-2] + ("aa" if not token.endswith("aa") else "bb")
    response = requests.get(f"{base}/feed/{wrong}/", timeout=10)
    assert response.status_code == 404
    assert "Demo runner" not in response.text and "Strength" not in response.text
    good = requests.get(f"{base}/feed/{token}/", timeout=10)
    assert good.status_code == 200 and "Demo runner" in good.text
    assert good.headers["content-type"].startswith("text/html")
