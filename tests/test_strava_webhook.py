"""Strava webhooks: the routes served by the real server on 127.0.0.1, events applied by the next sync."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from runstrong_sync.connectors.strava import INDEX_KEY, QUEUE_KEY
from runstrong_sync.connectors.strava_http import TOKENS_KEY, StravaAccessError
from runstrong_sync.connectors.strava_webhook import (
    WebhookError,
    callback_url,
    ensure_secret,
    parse_event,
    validate_subscription,
    webhook_routes,
)
from starlette.applications import Starlette

from runstrong_sync.server.run import serve_in_thread
from runstrong_sync.storage.db import Database
from tests.fakestrava import ATHLETE_ID, FakeStrava, fixture, make_activity, serve
from tests.strava_helpers import NOW, connect, history, make_config, rows, state, sync
from tests.support import free_port

VERIFY = "a-long-random-string"


@pytest.fixture
def fake() -> Iterator[FakeStrava]:
    yield from serve(FakeStrava())


@pytest.fixture
def connected(tmp_path: Path, fake: FakeStrava) -> Iterator[tuple[Any, Database]]:
    config = make_config(tmp_path, fake, webhook_verify_token=VERIFY)
    db = connect(config, fake)
    app = Starlette(routes=webhook_routes(db, VERIFY))
    port = free_port()
    server = serve_in_thread(app, "127.0.0.1", port)
    fake.webhook_url = callback_url(f"http://127.0.0.1:{port}", ensure_secret(db, NOW))
    yield config, db
    server.stop()


def event(name: str, object_id: int | None = None) -> dict[str, Any]:
    body = fixture(f"webhook_event_{name}.json")
    body["owner_id"] = ATHLETE_ID
    if object_id is not None:
        body["object_id"] = object_id
    return body


def test_subscription_check_is_pure_and_strict() -> None:
    query = fixture("webhook_validation_get_query.json")
    assert validate_subscription(query, "STRAVA") == fixture("webhook_validation_response.json")
    with pytest.raises(WebhookError) as wrong:
        validate_subscription(query, "something else")
    assert wrong.value.status == 403
    with pytest.raises(WebhookError):
        validate_subscription(query, None)
    with pytest.raises(WebhookError):
        parse_event(b'{"object_type": "club", "aspect_type": "create", "object_id": 1, "owner_id": 2}')
    with pytest.raises(WebhookError):
        parse_event(b"not json")
    assert parse_event(json.dumps(event("activity_update_title")).encode())["updates"] == {"title": "Messy"}


def test_validation_get_over_http(connected: tuple[Any, Database], fake: FakeStrava) -> None:
    assert fake.webhook_url
    query = dict(fixture("webhook_validation_get_query.json"), **{"hub.verify_token": VERIFY})
    answer = requests.get(fake.webhook_url, params=query, timeout=2)
    assert answer.status_code == 200 and answer.json() == {"hub.challenge": query["hub.challenge"]}
    refused = requests.get(fake.webhook_url, params=fixture("webhook_validation_get_query.json"), timeout=2)
    assert refused.status_code == 403


def test_events_are_queued_fast_and_applied_by_the_next_sync(
    connected: tuple[Any, Database], fake: FakeStrava
) -> None:
    config, db = connected
    acts = history(fake, 30)
    sync(db, config, fake)
    old = acts[25]  # outside the 14-day window: only the webhook tells
    new = fake.add(make_activity(4242, NOW - timedelta(days=40), name="Logged late"))
    old.update(name="Messy", sport_type="Ride")
    fake.remove(acts[28]["id"])
    for body in (
        event("activity_create", new["id"]),
        event("activity_update_title", old["id"]),
        event("activity_delete", acts[28]["id"]),
    ):
        started = time.monotonic()
        answer = fake.send_event(body)
        assert answer.status_code == 200 and answer.json() == {"queued": True}
        assert time.monotonic() - started < 2.0
    fake.send_event(event("activity_delete", acts[28]["id"]))  # Strava's retry: queued once
    queue = state(db, config, QUEUE_KEY)
    assert queue is not None and len(queue["events"]) == 3
    stranger = dict(event("activity_create"), owner_id=1)
    assert fake.send_event(stranger).json() == {"queued": False}

    run = sync(db, config, fake)
    assert (run.report.created, run.report.updated, run.report.deleted) == (1, 1, 1)
    assert run.requests == 1 + 3  # the listing, one detail fetch per event (the delete: its 404)
    stored = rows(db, config)
    assert stored["4242"].name == "Logged late"
    assert stored[str(old["id"])].sport == "ride" and stored[str(old["id"])].name == "Messy"
    assert str(acts[28]["id"]) not in stored
    again = sync(db, config, fake)
    assert again.requests == 1 and again.report.created == again.report.updated == 0


def test_confirmed_deauthorization_forgets_tokens_and_hides_activities(
    connected: tuple[Any, Database], fake: FakeStrava
) -> None:
    config, db = connected
    history(fake, 6)
    sync(db, config, fake)
    assert len(rows(db, config)) == 6
    assert fake.send_event(event("athlete_deauthorize")).json() == {"queued": True}
    fake.access_tokens.clear()
    fake.refresh_tokens.clear()
    with pytest.raises(StravaAccessError) as caught:
        sync(db, config, fake)
    assert "revoked" in str(caught.value) and "strava restore" in str(caught.value)
    assert rows(db, config) == {}
    tokens = state(db, config, TOKENS_KEY)
    assert tokens is not None and "refresh_token" not in tokens
    index = state(db, config, INDEX_KEY)
    assert index is not None and index["activities"] == {}


def test_events_for_activities_strava_no_longer_has(tmp_path: Path, fake: FakeStrava) -> None:
    from datetime import UTC, datetime

    from runstrong_sync.connectors.strava_webhook import queue_event

    config = make_config(tmp_path, fake)
    db = connect(config, fake)
    acts = history(fake, 20)
    sync(db, config, fake)
    old = acts[18]  # outside the window
    fake.remove(old["id"])
    now = datetime.now(UTC)
    assert queue_event(db, parse_event(json.dumps(event("activity_update_title", old["id"])).encode()), now)
    assert queue_event(db, parse_event(json.dumps(event("activity_create", 999)).encode()), now)
    run = sync(db, config, fake)
    assert (run.report.created, run.report.deleted) == (0, 1)  # the 404s: one gone, one never known
    assert [r.status for r in fake.requests(r"/activities/\d+$")] == [404, 404]
    assert str(old["id"]) not in rows(db, config)
