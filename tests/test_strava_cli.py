"""`strava auth|status|disconnect` and a crash between receiving a refreshed token and storing it,
each as the real command in its own process against the fake Strava server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from runstrong_sync.connectors.strava import INDEX_KEY
from runstrong_sync.connectors.strava_cli import ZONES_KEY
from runstrong_sync.connectors.strava_http import TOKENS_KEY

from runstrong_sync.errors import ExitStatus
from runstrong_sync.storage.db import open_database
from tests.fakestrava import ATHLETE_ID, FakeStrava, serve
from tests.strava_helpers import NOW, cli_env, connect, history, make_config, rows, state
from tests.support import ROOT, run_cli, run_main


@pytest.fixture
def fake() -> Iterator[FakeStrava]:
    yield from serve(FakeStrava())


def _authorize(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `strava auth`, open the printed page like a browser would, and let Strava redirect back."""
    process = subprocess.Popen(
        [sys.executable, "-m", "runstrong_sync", "strava", "auth", "--no-browser", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("http"):
            page = requests.get(line.strip(), timeout=10)  # follows the redirect to the loopback listener
            assert page.status_code == 200
            break
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, "".join(lines) + out, err)


def test_auth_stores_tokens_and_zones(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    env = cli_env(tmp_path, fake, config)
    result = _authorize(env)
    assert result.returncode == 0, result.stderr
    assert (
        f"{fake.url}/oauth/authorize?" in result.stdout
        and "redirect_uri=http%3A%2F%2F127.0.0.1" in result.stdout
    )
    assert "activity%3Aread_all" in result.stdout
    assert f"athlete {ATHLETE_ID}" in result.stdout
    assert fake.client_secret not in result.stdout + result.stderr
    db = open_database(config.database_url)
    tokens = state(db, config, TOKENS_KEY)
    assert tokens is not None and tokens["refresh_token"] in fake.refresh_tokens
    assert tokens["scope"] == "activity:read_all,profile:read_all,read"
    zones = state(db, config, ZONES_KEY)
    assert zones is not None and zones["heart_rate"]["zones"][1]["max"] == 153
    history(fake, 3)
    synced = run_main("sync", env=env)
    assert synced.returncode == 0, synced.stderr
    assert len(rows(db, config)) == 3


def test_auth_without_activity_read_all_says_what_is_missing(tmp_path: Path, fake: FakeStrava) -> None:
    fake.granted_scope = "read,activity:read"  # the runner unticked "private activities"
    config = make_config(tmp_path, fake)
    result = _authorize(cli_env(tmp_path, fake, config))
    assert result.returncode == ExitStatus.REAUTHORIZE
    assert "activity:read_all" in result.stderr and "ticked" in result.stderr
    assert state(open_database(config.database_url), config, TOKENS_KEY) is None


def test_auth_without_credentials_explains_setup(tmp_path: Path, fake: FakeStrava) -> None:
    config = make_config(tmp_path, fake)
    env = cli_env(tmp_path, fake, config)
    env["RUNSTRONG_STRAVA_CLIENT_SECRET"] = ""
    result = run_main("strava", "auth", "--no-browser", env=env)
    assert result.returncode == ExitStatus.CONFIG
    assert "client_secret" in result.stderr and "settings/api" in result.stderr


def test_status_and_disconnect(tmp_path: Path, fake: FakeStrava, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path, fake)
    connect(config, fake).dispose()
    env = cli_env(tmp_path, fake, config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    history(fake, 4)
    assert run_cli("sync").exit_code == 0
    shown = run_cli("strava", "status")
    assert f"athlete {ATHLETE_ID}" in shown.output and "Activities known from Strava: 4" in shown.output
    assert "reads: 1/100" in shown.output
    gone = run_cli("strava", "disconnect", "--yes")
    assert "access revoked at Strava" in gone.output and "4 Strava activities" in gone.output
    assert fake.deauthorized
    db = open_database(config.database_url)
    assert rows(db, config) == {} and state(db, config, TOKENS_KEY) is None
    assert state(db, config, INDEX_KEY) is None
    assert "Not connected" in run_cli("strava", "status").output
    again = run_main("sync", env=env)
    assert again.returncode == ExitStatus.REAUTHORIZE and "strava auth" in again.stderr
    assert "Traceback" not in again.stderr


CRASH_AFTER_TOKEN = """
import os, signal
from runstrong_sync.connectors.strava import StravaConnector
from runstrong_sync import pipeline
from runstrong_sync.config import load_config
from runstrong_sync.storage.db import open_database

config = load_config()
db = open_database(config.database_url)
now = pipeline.now_for(None, config)
athlete = pipeline.athlete_id(db, config, now)
# Killed the moment Strava's answer with the new token pair is in memory, before it is stored.
strava = StravaConnector(config, on_token_received=lambda: os.kill(os.getpid(), signal.SIGKILL))
context = pipeline.make_context(db, athlete, config, now)
pipeline.ingest(db, athlete, "strava", strava.fetch(context), now)
"""


def _crash_during_refresh(tmp_path: Path, fake: FakeStrava) -> tuple[dict[str, str], dict[str, object]]:
    config = make_config(tmp_path, fake)
    connect(config, fake, expires_in=60).dispose()  # due for a refresh
    env = cli_env(tmp_path, fake, config)
    before = state(open_database(config.database_url), config, TOKENS_KEY)
    assert before is not None
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_TOKEN],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == -9, crashed.stderr
    assert len(fake.requests("/oauth/token")) == 1  # Strava issued a new pair, and it was lost
    after = state(open_database(config.database_url), config, TOKENS_KEY)
    assert after == before
    return env, before


def test_crash_between_receiving_and_storing_a_token_needs_no_new_authorization(
    tmp_path: Path, fake: FakeStrava
) -> None:
    history(fake, 5)
    env, before = _crash_during_refresh(tmp_path, fake)
    result = run_main("sync", env=env)  # the old refresh token is still good: the new pair was never used
    assert result.returncode == 0, result.stderr
    config = make_config(tmp_path, fake)
    db = open_database(config.database_url)
    assert len(rows(db, config)) == 5
    tokens = state(db, config, TOKENS_KEY)
    assert tokens is not None and tokens["refresh_token"] != before["refresh_token"]
    assert tokens["refresh_token"] in fake.refresh_tokens
    assert before["refresh_token"] not in fake.refresh_tokens  # retired once the new access token was used
    later = run_main("sync", env=env)
    assert later.returncode == 0, later.stderr


def test_crash_with_strict_rotation_asks_for_authorization_plainly(tmp_path: Path, fake: FakeStrava) -> None:
    """If the old refresh token died at once, nothing could save the lost pair: say what to do."""
    fake.strict_rotation = True
    env, _ = _crash_during_refresh(tmp_path, fake)
    result = run_main("sync", env=env)
    assert result.returncode == ExitStatus.REAUTHORIZE
    assert "strava auth" in result.stderr and "Traceback" not in result.stderr


def test_new_refresh_token_is_stored_before_the_new_access_token_is_used(
    tmp_path: Path, fake: FakeStrava
) -> None:
    history(fake, 1, end=NOW - timedelta(days=2))
    config = make_config(tmp_path, fake)
    db = connect(config, fake, expires_in=60)
    seen: list[object] = []

    def check_committed() -> None:
        # Called with the new pair in memory; nothing has used the new access token yet.
        seen.append(state(db, config, TOKENS_KEY))
        assert fake.fresh_access, "the new access token was used before it was stored"

    from tests.strava_helpers import sync

    sync(db, config, fake, on_token_received=check_committed)
    stored = state(db, config, TOKENS_KEY)
    assert seen and stored is not None and stored != seen[0]
    assert not fake.fresh_access  # used, after the commit
