"""kill -9 in the middle of a Garmin download: the next sync loses nothing and stores nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runstrong_sync.connectors.garmin import INDEX_KEY

from tests.fakegarmin import GarminFake, State, add_demo, demo_fit_files
from tests.test_garmin import NOW, activity_rows, cli_env, connect, make_config, state


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    with GarminFake(tmp_path, State()) as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        yield server


def _sync(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "runstrong_sync", "--today", "2026-11-23", "sync"],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def test_kill_during_a_download_loses_and_duplicates_nothing(tmp_path: Path, fake: GarminFake) -> None:
    config = make_config(tmp_path)
    db = connect(config, fake)
    files = demo_fit_files()[-8:]
    add_demo(fake, files)
    fake.state.download_delay_s = 30.0
    fake.state.slow_from = 3  # three files arrive, the fourth stalls half-way
    env = {**cli_env(tmp_path, config), **fake.environment()}
    process = _sync(env, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 60
        while fake.state.downloads < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.state.downloads == 4, "the sync never reached the fourth download"
        time.sleep(0.3)  # half of the file is on its way
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    kept = activity_rows(db, config)
    assert len(kept) == 3
    assert len(state(db, config, INDEX_KEY)["activities"]) == 3

    fake.state.download_delay_s = 0.0
    again = _sync(env, tmp_path / "second.log")
    assert again.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()
    stored = activity_rows(db, config)
    assert len(stored) == len(files)
    assert len({external for _, external, _, _ in stored}) == len(files)
    assert fake.state.downloads == 4 + (len(files) - 3)  # the three stored ones are not fetched again
    assert NOW  # the same pinned day as the other Garmin tests
