"""Strava push events: answer the subscription check, queue each event at once; the next sync applies it.

Strava wants an answer within 2 seconds and retries (3 attempts in all) otherwise, so nothing here
talks to Strava: an event becomes one entry in the ``strava.webhook`` state row of the athlete it
belongs to (found by the Strava athlete id stored with the tokens). The connector applies queued
events on its next run: create/update fetch that activity, delete removes it, a deauthorization
deletes the athlete's Strava data and tokens.

``validate_subscription`` and ``parse_event`` are pure; ``queue_event`` needs the database;
``webhook_routes`` wraps them as Starlette routes for the feed server to mount.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.strava import QUEUE_DONE_KEY, QUEUE_KEY
from connectors.strava_http import TOKENS_KEY
from connectors.strava_plugin import StravaSettings
from runstrong_sync.config import Config
from runstrong_sync.errors import DatabaseError
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import StateRow

WEBHOOK_PATH = "/strava/webhook"
OBJECT_TYPES = frozenset({"activity", "athlete"})
ASPECTS = frozenset({"create", "update", "delete"})
MAX_QUEUED = 5000  # beyond this the next sync is far behind; the oldest events are dropped
WRITE_ATTEMPTS = 5  # concurrent writers (the sync) can make a write fail; the queue write is retried


class WebhookError(ValueError):
    """A request that is not a valid Strava webhook call; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def validate_subscription(query: Mapping[str, str], verify_token: str | None) -> dict[str, str]:
    """The subscription check: echo ``hub.challenge`` when the verify token matches."""
    if not verify_token:
        raise WebhookError("sources.strava.webhook_verify_token is not configured", 403)
    if query.get("hub.mode") != "subscribe" or "hub.challenge" not in query:
        raise WebhookError("expected hub.mode=subscribe and a hub.challenge")
    if not hmac.compare_digest(query.get("hub.verify_token", ""), verify_token):
        raise WebhookError("hub.verify_token does not match", 403)
    return {"hub.challenge": query["hub.challenge"]}


def parse_event(body: bytes) -> dict[str, Any]:
    """A push event, checked: the fields the sync relies on, with their types."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise WebhookError(f"the body is not JSON ({err})") from err
    if not isinstance(data, dict):
        raise WebhookError("the body is not a JSON object")
    if data.get("object_type") not in OBJECT_TYPES or data.get("aspect_type") not in ASPECTS:
        raise WebhookError("object_type must be activity or athlete, aspect_type create, update or delete")
    for key in ("object_id", "owner_id"):
        if not isinstance(data.get(key), int) or isinstance(data.get(key), bool):
            raise WebhookError(f"{key} must be a number")
    updates = data.get("updates")
    return {
        "object_type": data["object_type"],
        "object_id": data["object_id"],
        "aspect_type": data["aspect_type"],
        "owner_id": data["owner_id"],
        "event_time": data.get("event_time") if isinstance(data.get("event_time"), int) else None,
        "subscription_id": data.get("subscription_id"),
        "updates": {str(k): str(v) for k, v in updates.items()} if isinstance(updates, dict) else {},
    }


def queue_event(db: Database, event: Mapping[str, Any], now: datetime) -> bool:
    """Append the event to its athlete's queue; False when no athlete here has that Strava id."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with db.transaction() as session:
                athlete = _athlete_for(session, event["owner_id"])
                if athlete is None:
                    return False
                queue = repo.get_state(session, athlete, QUEUE_KEY) or {}
                done = int((repo.get_state(session, athlete, QUEUE_DONE_KEY) or {}).get("seq", 0))
                events = [e for e in queue.get("events", []) if int(e.get("seq", 0)) > done]
                plain = {k: v for k, v in event.items() if k != "seq"}
                if any({k: v for k, v in e.items() if k != "seq"} == plain for e in events):
                    return True  # Strava's retry of an event already queued
                seq = max(int(queue.get("next_seq", 1)), done + 1)
                events = [*events, {**plain, "seq": seq}][-MAX_QUEUED:]
                repo.set_state(session, athlete, QUEUE_KEY, {"events": events, "next_seq": seq + 1}, now)
                return True
        except DatabaseError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return False


def _athlete_for(session: Any, strava_athlete_id: int) -> int | None:
    for row in session.scalars(select(StateRow).where(StateRow.key == TOKENS_KEY)):
        if str(row.value_json.get("athlete_id")) == str(strava_athlete_id):
            return int(row.athlete_id)
    return None


def webhook_routes(
    database: Database | Callable[[], Database],
    verify_token: str | None,
    *,
    path: str = WEBHOOK_PATH,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Route]:
    """Starlette routes for ``path``: GET answers the subscription check, POST queues an event."""

    def db() -> Database:
        return database if isinstance(database, Database) else database()

    async def endpoint(request: Request) -> Response:
        try:
            if request.method == "GET":
                return JSONResponse(validate_subscription(request.query_params, verify_token))
            event = parse_event(await request.body())
        except WebhookError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        queued = await run_in_threadpool(queue_event, db(), event, clock())
        return JSONResponse({"queued": queued})

    return [Route(path, endpoint, methods=["GET", "POST"])]


def routes(config: Config, db: Database) -> list[Route]:
    """The webhook the feed server mounts while Strava is on (the plugin's ``routes``)."""
    settings = config.sources.get("strava", StravaSettings)
    return webhook_routes(db, settings.webhook_verify_token) if settings.enabled else []
