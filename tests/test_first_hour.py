"""The README's "Using it", as a new runner does it, in a fresh home: init, drop files, sync,
status, serve, plan. Each step's output is checked for the facts it must state."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support import FIXTURES, free_port, run_main

DEMO = FIXTURES / "demo"


@pytest.fixture
def fresh_home(tmp_path: Path) -> dict[str, str]:
    """A home with nothing in it, and none of the test suite's RUNSTRONG_* settings."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "RUNSTRONG_CONFIG": "",
        "RUNSTRONG_DATA_DIR": "",
        "RUNSTRONG_DATABASE_URL": "",
        "RUNSTRONG_FIT_INBOX": "",
        "RUNSTRONG_ATHLETE": "",
        "COLUMNS": "200",
    }


def _get(url: str) -> tuple[int, str, bytes]:
    """GET ``url``, waiting for the server to listen (it prints its addresses first)."""
    parts = urlsplit(url)
    deadline = time.monotonic() + 60
    while True:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            connection.request("GET", parts.path)
            response = connection.getresponse()
            return response.status, response.getheader("content-type") or "", response.read()
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            connection.close()


def _serve(environ: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen[str], str]:
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "runstrong_sync", "serve", "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **environ},
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8")
        if "week page:" in text and text.rstrip().endswith("/"):
            return process, text
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise AssertionError(log.read_text(encoding="utf-8"))


def test_a_new_runner_follows_the_readme(fresh_home: dict[str, str], tmp_path: Path) -> None:
    home = Path(fresh_home["HOME"])
    newest = max(date.fromisoformat(p.name[:10]) for p in DEMO.glob("*.fit"))
    environ = {**fresh_home, "RUNSTRONG_TODAY": (newest + timedelta(days=1)).isoformat()}

    # 1. init: the configuration, the inbox, and what to run next.
    init = run_main(
        "init",
        "--yes",
        "--name",
        "Anna",
        "--time-zone",
        "Europe/Berlin",
        "--threshold-hr",
        "168",
        "--max-hr",
        "188",
        "--equipment",
        "bodyweight,bands,dumbbells",
        env=environ,
    )
    assert init.returncode == 0, init.stderr
    config = home / ".config" / "runstrong-sync" / "config.toml"
    inbox = home / "runstrong" / "inbox"
    assert f"Wrote {config}" in init.stdout and f"Inbox: {inbox}" in init.stdout
    assert re.findall(r"^  runstrong-sync (\w+) ", init.stdout, re.M) == ["sync", "plan", "serve"]
    assert inbox.is_dir() and stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text(encoding="utf-8")
    assert 'name = "Anna"' in text and "threshold_hr = 168" in text and "# public_url = " in text
    again = run_main("init", "--yes", env=environ)
    assert again.returncode == 2 and "already exists" in again.stderr and "--force" in again.stderr
    assert config.read_text(encoding="utf-8") == text

    # 2. Drop the watch's files into the inbox, then sync.
    for path in DEMO.glob("*.fit"):
        shutil.copy(path, inbox)
        os.utime(inbox / path.name, (time.time() - 600, time.time() - 600))
    files = len(list(DEMO.glob("*.fit")))
    sync = run_main("-v", "sync", env=environ)
    assert sync.returncode == 0, sync.stderr
    assert f"fit: {files} new" in sync.stdout
    feed = home / ".local" / "share" / "runstrong-sync" / "runstrong.ics"
    assert f"feed written: {feed}" in sync.stdout and feed.is_file()
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == sorted(p.name for p in DEMO.glob("*.fit"))
    assert run_main("sync", env=environ).stdout == ""  # cron's nightly run: quiet when all is well

    # 3. status: what is there, what waits, where to subscribe.
    status = run_main("status", env=environ)
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert f"configuration: {config}" in out and f"Anna (default): {files} activities" in out
    assert f"files waiting: 0 in {inbox}" in out and "Strava: not used" in out
    assert "re-authorization" not in out and "connect again" not in out
    assert re.search(r"subscribe: http://127\.0\.0\.1:8765/feed/[\w-]+/strength\.ics", out)

    # 4. serve: real HTTP on 127.0.0.1, the feed and the week page at the printed addresses.
    port = free_port()
    process, printed = _serve(environ, port, tmp_path / "serve.log")
    try:
        urls = re.findall(r"(?:http|webcal)://\S+", printed)
        feed_url = next(u for u in urls if u.startswith("http://") and u.endswith("/strength.ics"))
        assert f"webcal://127.0.0.1:{port}/" in printed
        week_url = printed.split("week page:", 1)[1].split()[0]
        assert week_url == feed_url.removesuffix("strength.ics")
        code, kind, body = _get(feed_url)
        assert (code, kind) == (200, "text/calendar; charset=utf-8") and b"SUMMARY:Strength: " in body
        code, kind, page = _get(week_url)
        assert code == 200 and kind.startswith("text/html") and b"Strength" in page
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    # 5. plan: the sessions of the next two weeks, with the day and why.
    plan = run_main("plan", env=environ)
    assert plan.returncode == 0, plan.stderr
    assert f"Plan from {environ['RUNSTRONG_TODAY']} (14 days)" in plan.stdout
    assert "Strength: " in plan.stdout and "Why: " in plan.stdout
    assert "Core & hips: core" not in plan.stdout


def test_init_asks_on_a_terminal_and_asks_again_after_a_wrong_answer(
    fresh_home: dict[str, str], tmp_path: Path
) -> None:
    import pty

    config = tmp_path / "mine.toml"
    inbox = tmp_path / "watch-files"
    answers = [
        "Bea",  # name
        "Mars/Olympus",  # not a time zone: asked again
        "America/New_York",
        str(inbox),
        "experienced",
        "dumbbells, kettlebells",
        "tue, thu, sat",
        "",  # max HR: not known
        "172",
        "",  # resting HR
        "4:30",
    ]
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "runstrong_sync", "--config", str(config), "init"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **fresh_home},
    )
    os.close(follower)
    os.write(leader, ("\n".join(answers) + "\n").encode())
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other end closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")
    shown = output.decode(errors="replace")
    assert "Time zone [" in shown and "not an IANA time zone" in shown
    assert f"runstrong-sync --config {config} sync" in shown  # not the default place: said so
    text = config.read_text(encoding="utf-8")
    for line in (
        'name = "Bea"',
        'time_zone = "America/New_York"',
        f'inbox = "{inbox}"',
        'experience = "experienced"',
        'equipment = ["dumbbells", "kettlebells"]',
        'strength_days = ["tue", "thu", "sat"]',
        "threshold_hr = 172",
        'threshold_pace = "4:30"',
        "# max_hr = 188  # example; 100-230",
    ):
        assert line in text.splitlines(), line
    assert inbox.is_dir()
