"""Strava push events: answer the subscription check, queue each event at once; the next sync applies it.

Strava signs nothing, so the callback URL carries a secret of the install
(``/strava/webhook/<secret>``, 192 random bits in the ``install_secrets`` table, compared in constant
time, cut out of the access log); a wrong secret gets a plain 404. Even a call with the secret is only
a hint: the connector asks Strava before it changes anything (a delete needs Strava's 404 for that
activity, a deauthorization Strava's refusal of the token).

Strava wants an answer within 2 seconds and retries (3 attempts in all) otherwise, so nothing here
talks to Strava: an event becomes one entry in the ``strava.webhook`` state row of the athlete it
belongs to (found by the Strava athlete id stored with the tokens; events of anyone else are dropped).
The queue holds one entry per object (a repeat replaces it) and at most ``MAX_QUEUED`` entries per
athlete; the connector spends at most its per-run budget on them.

``validate_subscription`` and ``parse_event`` are pure; ``queue_event`` needs the database;
``webhook_routes`` wraps them as Starlette routes for the feed server to mount.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from runstrong_sync.config import Config
from runstrong_sync.errors import DatabaseError
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import InstallSecret, StateRow

from .strava import QUEUE_DONE_KEY, QUEUE_KEY
from .strava_http import TOKENS_KEY
from .strava_plugin import StravaSettings

WEBHOOK_PATH = "/strava/webhook"
SECRET_NAME = "strava.webhook"  # noqa: S105 (the name of the secret, not the secret)
SECRET_RELOAD_S = 1.0  # the stored secret is re-read when this old (a rotation from another process)
SECRET_RETRY_S = 0.1  # a secret that does not match re-reads it at most this often
OBJECT_TYPES = frozenset({"activity", "athlete"})
ASPECTS = frozenset({"create", "update", "delete"})
MAX_QUEUED = 200  # entries per athlete (one per object); further objects are dropped until a sync
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
    """Queue the event for its athlete; False when no athlete here has that Strava id or the queue is full."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with db.transaction() as session:
                athlete = _athlete_for(session, event["owner_id"])
                if athlete is None:
                    return False
                queue = repo.get_state(session, athlete, QUEUE_KEY) or {}
                done = int((repo.get_state(session, athlete, QUEUE_DONE_KEY) or {}).get("seq", 0))
                events = [e for e in queue.get("events", []) if int(e.get("seq", 0)) > done]
                merged = _merge(events, event)
                if merged is None:
                    return False
                seq = max(int(queue.get("next_seq", 1)), done + 1)
                events = [e for e in events if _object(e) != _object(event)]
                events.append({**merged, "seq": seq})
                repo.set_state(session, athlete, QUEUE_KEY, {"events": events, "next_seq": seq + 1}, now)
                return True
        except DatabaseError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return False


def _object(event: Mapping[str, Any]) -> tuple[str, str]:
    return str(event.get("object_type")), str(event.get("object_id"))


def _merge(queued: list[dict[str, Any]], event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The one entry for the event's object: a later event replaces an earlier one, but a create or
    update stays one (a delete after it must not hide it unread). None when the queue is full."""
    plain = {k: v for k, v in event.items() if k != "seq"}
    earlier = [e for e in queued if _object(e) == _object(event)]
    if not earlier:
        return plain if len(queued) < MAX_QUEUED else None
    if plain.get("aspect_type") == "delete" and earlier[-1].get("aspect_type") != "delete":
        plain["aspect_type"] = earlier[-1].get("aspect_type")
    if plain.get("object_type") == "athlete":  # a deauthorization stays known
        updates = {**(earlier[-1].get("updates") or {}), **(plain.get("updates") or {})}
        plain["updates"] = updates
    return plain


# --- the install's secret ----------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_urlsafe(24)  # 192 random bits


def stored_secret(db: Database) -> str | None:
    with db.transaction() as session:
        row = session.get(InstallSecret, SECRET_NAME)
        return row.value if row is not None else None


def ensure_secret(db: Database, now: datetime) -> str:
    """The webhook secret, made on first use."""
    with db.transaction() as session:
        row = session.get(InstallSecret, SECRET_NAME)
        if row is None:
            row = InstallSecret(name=SECRET_NAME, value=new_secret(), created_at=now)
            session.add(row)
        return row.value


def rotate_secret(db: Database, now: datetime) -> str:
    """A new webhook secret; the old callback URL answers 404 from the next request on."""
    with db.transaction() as session:
        row = session.get(InstallSecret, SECRET_NAME)
        if row is None:
            row = InstallSecret(name=SECRET_NAME, value=new_secret(), created_at=now)
            session.add(row)
        else:
            row.value, row.created_at = new_secret(), now
        return row.value


def callback_url(public_url: str, secret: str) -> str:
    return f"{public_url.rstrip('/')}{WEBHOOK_PATH}/{secret}"


class SecretCheck:
    """Compares a given secret with the stored one in constant time. The stored one is re-read once
    it is a second old, or sooner (10 times a second at most) when a secret does not match: a rotation
    is seen at once, and a flood of wrong secrets costs next to nothing."""

    def __init__(self, load: Callable[[], str | None]) -> None:
        self.load = load
        self.value: str | None = None
        self.loaded_at = float("-inf")
        self.lock = threading.Lock()

    def matches(self, given: str) -> bool:
        with self.lock:
            age = time.monotonic() - self.loaded_at
            if age >= SECRET_RELOAD_S or (age >= SECRET_RETRY_S and not self._same(given)):
                self.value, self.loaded_at = self.load(), time.monotonic()
        return self._same(given)

    def _same(self, given: str) -> bool:
        value = self.value
        return value is not None and hmac.compare_digest(given.encode(), value.encode())


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
    """Starlette routes for ``path/<secret>``: GET answers the subscription check, POST queues an event.

    The subscription check accepts the configured verify token, else the secret itself (which
    `strava webhook subscribe` sends)."""

    def db() -> Database:
        return database if isinstance(database, Database) else database()

    check = SecretCheck(lambda: stored_secret(db()))
    not_found = Response("Not found\n", status_code=404, media_type="text/plain")

    async def endpoint(request: Request) -> Response:
        given = str(request.path_params.get("secret", ""))
        if not await run_in_threadpool(check.matches, given):
            return not_found
        try:
            if request.method == "GET":
                return JSONResponse(validate_subscription(request.query_params, verify_token or given))
            event = parse_event(await request.body())
        except WebhookError as err:
            return JSONResponse({"error": str(err)}, status_code=err.status)
        queued = await run_in_threadpool(queue_event, db(), event, clock())
        return JSONResponse({"queued": queued})

    return [Route(path + "/{secret}", endpoint, methods=["GET", "POST"])]


def routes(config: Config, db: Database) -> list[Route]:
    """The webhook the feed server mounts while Strava is on (the plugin's ``routes``)."""
    settings = config.sources.get("strava", StravaSettings)
    return webhook_routes(db, settings.webhook_verify_token) if settings.enabled else []
