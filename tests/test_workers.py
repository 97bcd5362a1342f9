"""Several workers, one PostgreSQL: real `sync` processes (as if on different machines, each with
its own data dir) share a squad against the fake Strava; the per-athlete advisory lock and the
token row lock keep every activity stored once and every rotated refresh token."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from runstrong_sync.connectors import strava_http as http
from sqlalchemy import func, select

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.storage import locks, repo
from runstrong_sync.storage.db import open_database
from runstrong_sync.storage.models import ActivitySource, Athlete
from tests.fakestrava import FakeStrava, make_activity, serve
from tests.strava_helpers import NOW, history
from tests.support import ROOT, run_main

ROUNDS = int(os.environ.get("RUNSTRONG_WORKER_ROUNDS", "20"))
SQUAD = ("default", "anna", "ben")
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]


@pytest.fixture
def fake() -> Iterator[FakeStrava]:
    roomy = {"overall": (100_000, 1_000_000), "read": (100_000, 1_000_000)}  # not what is tested here
    yield from serve(FakeStrava(strict_rotation=True, limits=roomy))  # a refresh token dies once replaced


def squad(tmp_path: Path, fake: FakeStrava, database_url: str) -> tuple[dict[str, str], Config]:
    """A configuration for the squad, all three connected to Strava."""
    config_file = tmp_path / "config.toml"
    strava = f'[sources.strava]\nenabled = true\nclient_id = "{fake.client_id}"\n'
    config_file.write_text(
        '[athlete]\ntime_zone = "Europe/Berlin"\nthreshold_pace = "4:15"\n'
        f"[sources.fit]\nenabled = false\n{strava}",
        encoding="utf-8",
    )
    env = {
        "RUNSTRONG_CONFIG": str(config_file),
        "RUNSTRONG_DATABASE_URL": database_url,
        "RUNSTRONG_STRAVA_API_BASE_URL": fake.url,
        "RUNSTRONG_STRAVA_CLIENT_SECRET": fake.client_secret,
        "RUNSTRONG_TODAY": NOW.date().isoformat(),
        "RUNSTRONG_DATA_DIR": str(tmp_path / "setup"),
    }
    for key in SQUAD[1:]:
        settings = tmp_path / f"{key}.toml"
        settings.write_text("[sources.strava]\nenabled = true\n", encoding="utf-8")
        added = run_main("athletes", "add", key, "--settings", str(settings), env=env)
        assert added.returncode == 0, added.stderr
    config = Config.model_validate(
        {
            "athlete": {"time_zone": "Europe/Berlin"},
            "database": {"url": database_url},
            "sources": {"strava": {"client_id": fake.client_id, "client_secret": fake.client_secret}},
        }
    )
    db = open_database(database_url)
    pipeline.athlete_id(db, config, NOW)  # the default athlete, made by its first run otherwise
    with db.transaction() as session:
        for athlete in session.scalars(select(Athlete)):
            repo.set_state(session, athlete.id, http.TOKENS_KEY, fake.grant(), NOW)
    db.dispose()
    return env, config


def start(env: dict[str, str], machine: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runstrong_sync", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "RUNSTRONG_DATA_DIR": str(machine)},
        cwd=ROOT,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def stored(database_url: str) -> tuple[dict[str, int], dict[str, str], int]:
    """Activities per athlete, each athlete's refresh token, and identities stored more than once."""
    db = open_database(database_url, migrate=False)
    try:
        with db.transaction() as session:
            ids = {a.id: a.key for a in session.scalars(select(Athlete))}
            counts = {ids[a]: len(repo.activity_rows(session, a)) for a in ids}
            tokens = {
                ids[a]: (repo.get_state(session, a, http.TOKENS_KEY) or {}).get("refresh_token", "")
                for a in ids
            }
            twice = session.scalar(
                select(func.count()).select_from(
                    select(ActivitySource.athlete_id, ActivitySource.external_id)
                    .group_by(ActivitySource.athlete_id, ActivitySource.source, ActivitySource.external_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
    finally:
        db.dispose()
    return counts, tokens, int(twice or 0)


@pytest.mark.slow
def test_workers_on_several_machines_share_a_squad(
    tmp_path: Path, fake: FakeStrava, database_url: str
) -> None:
    env, _ = squad(tmp_path, fake, database_url)
    history(fake, 12)
    skipped = 0
    for round_ in range(ROUNDS):
        fake.add(make_activity(50_000 + round_, NOW - timedelta(hours=20) + timedelta(minutes=round_)))
        fake.expire_all_access_tokens()  # every worker's first request needs a refresh
        workers = [
            start(env, tmp_path / "machine-a", "--athlete", "anna", "sync"),
            start(env, tmp_path / "machine-b", "--athlete", "anna", "sync"),
            start(env, tmp_path / "machine-a", "sync"),
            start(env, tmp_path / "machine-c", "sync"),
        ]
        results = [finish(w) for w in workers]
        for status, _, err in results:
            assert status in (0, 7), err  # 5 would be a refresh token lost to another worker
        for status, _, err in results[:2]:
            if status == 7:
                skipped += 1
                assert "Another worker is syncing athlete 'anna'" in err
        # Whoever skipped Anna, another worker had her: a `sync` of everyone skips her quietly.
        _, tokens, twice = stored(database_url)
        assert twice == 0
        assert all(token in fake.refresh_tokens for token in tokens.values()), round_
    status, _, err = finish(start(env, tmp_path / "machine-a", "sync"))
    assert status == 0, err
    counts, _, twice = stored(database_url)
    assert counts == {key: len(fake.activities) for key in SQUAD} and twice == 0
    print(f"{ROUNDS} rounds, `sync --athlete anna` skipped {skipped} times")


def test_a_busy_athlete_is_skipped_with_a_message(
    tmp_path: Path, fake: FakeStrava, database_url: str
) -> None:
    env, _ = squad(tmp_path, fake, database_url)
    history(fake, 3)
    db = open_database(database_url)
    try:
        with locks.athlete_lock(db, "anna"):  # another machine's worker holds Anna
            status, _, err = finish(start(env, tmp_path / "machine-b", "--athlete", "anna", "sync"))
            assert status == 7 and "Another worker is syncing athlete 'anna'" in err
            status, _, err = finish(start(env, tmp_path / "machine-c", "sync"))
            assert status == 0, err
        counts, _, _ = stored(database_url)
        assert counts == {"default": 3, "anna": 0, "ben": 3}
    finally:
        db.dispose()


def test_a_refresh_under_the_row_lock_takes_the_pair_another_worker_stored(
    tmp_path: Path, fake: FakeStrava, database_url: str
) -> None:
    _, config = squad(tmp_path, fake, database_url)
    db = open_database(database_url)
    try:
        athlete = pipeline.athlete_id(db, config, NOW)
        keepers = []
        for _ in range(2):  # both workers read the same pair before either refreshes
            context = pipeline.make_context(db, athlete, config, NOW)
            assert context.update_state is not None
            session = http.routed_session(fake.url)
            keepers.append(
                http.TokenKeeper(
                    http.make_client(session),
                    context.load_state,
                    context.save_state,
                    fake.client_id,
                    fake.client_secret,
                    fake.clock,
                    update_state=context.update_state,
                )
            )
        first, second = keepers
        first.refresh()
        second.refresh()  # its refresh token is dead by now: it must take the stored pair
        assert (first.refreshes, second.refreshes) == (1, 0)
        assert second.stored["refresh_token"] == first.stored["refresh_token"] in fake.refresh_tokens
        assert len(fake.requests("/oauth/token")) == 1
    finally:
        db.dispose()
