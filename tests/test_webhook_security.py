"""The webhook as a stranger on the internet meets it: the real feed server on 127.0.0.1 (granian),
the real `strava webhook` commands in their own processes, and the fake Strava."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from runstrong_sync.connectors.strava import QUEUE_KEY
from runstrong_sync.connectors.strava_http import TOKENS_KEY, StravaAccessError
from runstrong_sync.connectors.strava_webhook import MAX_QUEUED, WEBHOOK_PATH, stored_secret

from runstrong_sync import pipeline, planning
from runstrong_sync.config import Config
from runstrong_sync.server import create_app
from runstrong_sync.server.app import setup_access_log
from runstrong_sync.server.run import serve_in_thread
from runstrong_sync.storage import repo, tombstones
from runstrong_sync.storage.db import Database
from tests.fakestrava import ATHLETE_ID, FakeStrava, fixture, serve
from tests.strava_helpers import NOW, cli_env, connect, history, make_config, rows, state, sync
from tests.support import free_port, run_main

STREAM_BUDGET = 5


@dataclass
class Served:
    config: Config
    db: Database
    base: str
    env: dict[str, str]
    log: io.StringIO


@pytest.fixture
def fake() -> Iterator[FakeStrava]:
    yield from serve(FakeStrava())


@pytest.fixture
def served(tmp_path: Path, fake: FakeStrava) -> Iterator[Served]:
    config = make_config(tmp_path, fake, stream_budget=STREAM_BUDGET)
    db = connect(config, fake)
    stream = io.StringIO()
    port = free_port()
    server = serve_in_thread(create_app(config, db), "127.0.0.1", port)
    setup_access_log(stream)
    env = cli_env(tmp_path, fake, config)
    env["RUNSTRONG_DATABASE_URL"] = config.database_url
    try:
        yield Served(config, db, f"http://127.0.0.1:{port}", env, stream)
    finally:
        server.stop()
        setup_access_log()


def event(name: str, object_id: int | None = None, **changes: Any) -> dict[str, Any]:
    body = fixture(f"webhook_event_{name}.json")
    body["owner_id"] = ATHLETE_ID
    if object_id is not None:
        body["object_id"] = object_id
    if name == "athlete_deauthorize":
        body["object_id"] = ATHLETE_ID
    return {**body, **changes}


def subscribe(served: Served, *args: str) -> str:
    result = run_main("strava", "webhook", *args, "--url", served.base, env=served.env)
    assert result.returncode == 0, result.stderr
    secret = stored_secret(served.db)
    assert secret and secret not in result.stdout + result.stderr
    return secret


def test_the_callback_path_carries_a_secret_registered_with_strava(served: Served, fake: FakeStrava) -> None:
    secret = subscribe(served, "subscribe")
    assert list(fake.subscriptions.values()) == [f"{served.base}{WEBHOOK_PATH}/{secret}"]
    create = event("activity_create", 77)
    assert fake.send_event(create).json() == {"queued": True}
    for wrong in (f"{served.base}{WEBHOOK_PATH}", f"{served.base}{WEBHOOK_PATH}/{secret[:-1]}x"):
        answer = requests.post(wrong, json=event("activity_create", 78), timeout=2)
        assert answer.status_code == 404
        assert (
            requests.get(wrong, params={"hub.mode": "subscribe", "hub.challenge": "x"}, timeout=2).status_code
            == 404
        )
    stranger = dict(event("activity_create", 79), owner_id=ATHLETE_ID + 1)
    assert fake.send_event(stranger).json() == {"queued": False}
    queue = state(served.db, served.config, QUEUE_KEY)
    assert queue is not None and [e["object_id"] for e in queue["events"]] == [77]

    old_url = fake.webhook_url
    new = subscribe(served, "rotate")
    assert new != secret and list(fake.subscriptions.values()) == [f"{served.base}{WEBHOOK_PATH}/{new}"]
    assert requests.post(old_url or "", json=create, timeout=2).status_code == 404
    assert fake.send_event(event("activity_create", 80)).json() == {"queued": True}
    time.sleep(0.2)
    log = served.log.getvalue()
    assert f"POST {WEBHOOK_PATH}/<token> HTTP/1.1" in log
    assert secret not in log and new not in log and secret[:-1] not in log


def test_forged_events_change_nothing_and_cost_at_most_one_sync(served: Served, fake: FakeStrava) -> None:
    config, db = served.config, served.db
    subscribe(served, "subscribe")
    acts = history(fake, 30)
    sync(db, config, fake)
    before = {key: (row.name, row.start_utc) for key, row in rows(db, config).items()}
    tokens = state(db, config, TOKENS_KEY)
    quiet = sync(db, config, fake).requests
    assert quiet == 1
    budget = 1 + STREAM_BUDGET  # one listing page and the streams: what a normal sync may spend

    forged = [event("athlete_deauthorize")]
    forged += [event("activity_delete", a["id"]) for a in acts]  # Strava still has them all
    forged += [event("activity_update_title", a["id"]) for a in acts[20:]]
    rng = random.Random(17)
    forged += [event("activity_create", rng.randrange(10**9, 10**10)) for _ in range(MAX_QUEUED + 100)]
    forged += [event("activity_delete", a["id"]) for a in acts]  # and again: Strava's retries
    with requests.Session() as session:
        answers = [session.post(fake.webhook_url or "", json=body, timeout=5) for body in forged]
    assert all(a.status_code == 200 for a in answers)
    queue = state(db, config, QUEUE_KEY)
    assert queue is not None and len(queue["events"]) <= MAX_QUEUED

    costs = []
    for _ in range(4):
        run = sync(db, config, fake)
        costs.append(run.requests)
        assert run.requests <= budget, run.requests
        assert (run.report.created, run.report.updated, run.report.deleted) == (0, 0, 0)
    print(f"{len(forged)} forged events: requests per sync {costs}, a quiet sync {quiet}, budget {budget}")
    assert {key: (row.name, row.start_utc) for key, row in rows(db, config).items()} == before
    assert state(db, config, TOKENS_KEY) == tokens
    assert not fake.requests(r"/activities/\d+$", "DELETE")


def test_a_real_deauthorization_hides_activities_and_restore_brings_them_back(
    served: Served, fake: FakeStrava
) -> None:
    config, db = served.config, served.db
    subscribe(served, "subscribe")
    history(fake, 8)
    sync(db, config, fake)
    assert len(rows(db, config)) == 8
    fake.access_tokens.clear()  # the athlete revoked the app in Strava's settings
    fake.refresh_tokens.clear()
    assert fake.send_event(event("athlete_deauthorize")).json() == {"queued": True}
    with pytest.raises(StravaAccessError):
        sync(db, config, fake)
    tokens = state(db, config, TOKENS_KEY)
    assert tokens is not None and "refresh_token" not in tokens and "access_token" not in tokens
    athlete = pipeline.athlete_id(db, config, NOW)
    assert rows(db, config) == {}
    with db.transaction() as session:
        assert tombstones.count(session, athlete) == 8
        assert repo.labelled_activities(session, athlete) == []
    assert planning.day_runs(db, athlete, NOW - timedelta(days=60)) == ([], [])
    report = pipeline.sync(config, db, now=NOW)  # plan and feeds go on without them
    assert report.feed_path is not None and "Easy" not in report.feed_path.read_text()
    shown = run_main("strava", "status", env=served.env)
    assert "Activities hidden since access was revoked: 8" in shown.stdout, shown.stderr
    # Further events of that athlete are no longer anyone's here.
    assert fake.send_event(event("activity_create", 5)).json() == {"queued": False}

    result = run_main("strava", "restore", env=served.env)
    assert result.returncode == 0 and "Restored 8 activities" in result.stdout, result.stderr
    assert len(rows(db, config)) == 8

    fake.access_tokens.clear()
    with db.transaction() as session:
        for row in repo.activity_rows(session, athlete):
            row.tombstoned_at = NOW
        assert tombstones.purge(session, athlete, NOW + timedelta(days=29)) == 0
        assert tombstones.purge(session, athlete, NOW + timedelta(days=31)) == 8
    with db.transaction() as session:
        assert tombstones.count(session, athlete) == 0
