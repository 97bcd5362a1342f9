"""`runstrong-sync strava auth|status|disconnect|restore|webhook`: connect Strava once, look at it,
let it go, bring back what a revocation hid, and register the push-event callback."""

from __future__ import annotations

import html
import secrets
import threading
import time
import webbrowser
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click
import requests
from stravalib import exc
from stravalib.protocol import Scope

from runstrong_sync import pipeline
from runstrong_sync.cli.app import App, pass_app
from runstrong_sync.errors import ConfigError, RunstrongError
from runstrong_sync.storage import repo, tombstones

from . import strava as connector
from . import strava_http as http
from . import strava_webhook as webhooks
from .strava_plugin import StravaSettings

SCOPES: list[Scope] = ["read", "activity:read_all", "profile:read_all"]
ZONES_KEY = "strava.zones"
CALLBACK_PATH = "/authorized"


@click.group()
def strava() -> None:
    """Connect Strava (auth), see the connection (status), or remove it and its data (disconnect)."""


def _credentials(settings: StravaSettings) -> tuple[int, str]:
    missing = [
        name
        for name, value in (("client_id", settings.client_id), ("client_secret", settings.client_secret))
        if not value
    ]
    if missing:
        raise ConfigError(
            f"sources.strava.{' and '.join(missing)} not set.",
            [
                "Create an API application at https://www.strava.com/settings/api (Authorization Callback "
                "Domain: 127.0.0.1), then set sources.strava.client_id in the configuration and the "
                "secret in RUNSTRONG_STRAVA_CLIENT_SECRET (see the README's Strava section)."
            ],
        )
    try:
        return int(str(settings.client_id)), str(settings.client_secret)
    except ValueError as err:
        raise ConfigError(
            f"sources.strava.client_id must be the number Strava shows for your app, not "
            f"{settings.client_id!r}."
        ) from err


class _Callback(BaseHTTPRequestHandler):
    server: _OneShot

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        self.server.answer = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        ok = "code" in self.server.answer
        text = (
            "runstrong-sync is connected to Strava. You can close this tab."
            if ok
            else "Strava did not grant access; see the terminal for what to do."
        )
        body = f"<!doctype html><title>runstrong-sync</title><p>{html.escape(text)}</p>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _OneShot(HTTPServer):
    answer: dict[str, str] | None = None


def _wait_for_callback(server: _OneShot, timeout_s: float) -> dict[str, str] | None:
    deadline = time.monotonic() + timeout_s
    server.timeout = 0.5
    while server.answer is None and time.monotonic() < deadline:
        server.handle_request()
    return server.answer


@strava.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Loopback port (0: any free one).")
@click.option("--browser/--no-browser", default=True, help="Open the page in a browser when there is one.")
@click.option("--timeout", "timeout_s", type=click.IntRange(10), default=300, show_default=True)
@pass_app
def auth(app: App, port: int, browser: bool, timeout_s: int) -> int:
    """Authorize runstrong-sync to read your Strava activities (once; tokens are kept in the database)."""
    settings = app.config.sources.get("strava", StravaSettings)
    client_id, client_secret = _credentials(settings)
    server = _OneShot(("127.0.0.1", port), _Callback)
    try:
        redirect = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
        client = http.make_client(connector.session_for(app.config))
        state = secrets.token_urlsafe(16)
        url = http.public_url(
            client.authorization_url(
                client_id=client_id, redirect_uri=redirect, scope=SCOPES, state=state, approval_prompt="force"
            ),
            settings.api_base_url,
        )
        click.echo("Open this page to connect runstrong-sync to Strava:")
        click.echo(url)
        click.echo(f"Waiting for Strava's answer on {redirect} ...", err=True)
        if browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        answer = _wait_for_callback(server, timeout_s)
    finally:
        server.server_close()
    if answer is None:
        raise RunstrongError(
            f"No answer from Strava within {timeout_s} s.",
            ["Run `runstrong-sync strava auth` again and approve the page that opens."],
        )
    if answer.get("state") != state:
        raise RunstrongError("The answer did not come from this authorization; nothing was stored.")
    if "code" not in answer:
        raise http.StravaAccessError(
            f"Strava did not grant access ({answer.get('error', 'no code')}).",
            ["Run `runstrong-sync strava auth` again and choose Authorize on Strava's page."],
        )
    granted = set(filter(None, answer.get("scope", "").split(",")))
    if "activity:read_all" not in granted:
        raise http.StravaAccessError(
            "Strava did not grant 'View data about your private activities' (activity:read_all); "
            "nothing was stored.",
            [
                "Run `runstrong-sync strava auth` again and leave that box ticked: without it runs "
                "set to 'Only You' are invisible and the plan would miss them."
            ],
        )
    tokens, athlete = http.with_retries(
        lambda: client.protocol.exchange_code_for_token(
            client_id, client_secret, answer["code"], return_athlete=True
        ),
        refusal=_code_refused,
    )
    now = app.now()
    athlete_row = app.athlete()
    athlete = athlete or {}
    name = " ".join(str(athlete.get(k) or "") for k in ("firstname", "lastname")).strip()
    stored = {
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": int(tokens["expires_at"]),
        "scope": ",".join(sorted(granted)),
        "athlete_id": athlete.get("id"),
        "athlete_name": name or None,
        "connected_at": datetime.now(UTC).isoformat(),
    }
    with app.db.transaction() as session:
        repo.set_state(session, athlete_row, http.TOKENS_KEY, stored, now)
    click.echo(f"Connected to Strava as {name or 'your account'} (athlete {athlete.get('id')}).")
    if "profile:read_all" in granted:
        _store_zones(app, client, athlete_row)
    else:
        click.echo(
            "Heart-rate zones: not granted (profile:read_all), so they come from the configuration or "
            "your runs instead."
        )
    if not settings.enabled:
        click.echo("Next: set `enabled = true` under [sources.strava] so `runstrong-sync sync` uses Strava.")
    return 0


def _code_refused(error: exc.Fault) -> RunstrongError | None:
    if isinstance(error, exc.ApplicationInactive):
        return http.inactive_application_error()
    if http.status_of(error) in (400, 401):
        return http.StravaAccessError(
            "Strava refused to exchange the authorization code.",
            [
                "Check sources.strava.client_id and the client secret against "
                "https://www.strava.com/settings/api, then run `runstrong-sync strava auth` again.",
            ],
        )
    return None


def _store_zones(app: App, client: Any, athlete_row: int) -> None:
    try:
        zones = client.protocol.get("/athlete/zones")
    except (exc.Fault, OSError) as err:
        click.echo(f"Heart-rate zones could not be read now ({err}); they are optional.", err=True)
        return
    if isinstance(zones, dict):
        with app.db.transaction() as session:
            repo.set_state(session, athlete_row, ZONES_KEY, zones, app.now())
        bounds = [z.get("max") for z in zones.get("heart_rate", {}).get("zones", []) if isinstance(z, dict)]
        click.echo(f"Heart-rate zones from Strava stored (upper bounds {bounds}).")


@strava.command()
@pass_app
def status(app: App) -> int:
    """Whether Strava is connected, the token, the sync cursor, pending work and the rate limit."""
    athlete = app.athlete()
    with app.db.transaction() as session:

        def get(key: str) -> dict[str, Any]:
            return repo.get_state(session, athlete, key) or {}

        tokens, index, cursor = get(http.TOKENS_KEY), get(connector.INDEX_KEY), get(connector.CURSOR_KEY)
        pending, queue = get(connector.PENDING_KEY), get(connector.QUEUE_KEY)
        done, rate = get(connector.QUEUE_DONE_KEY), get(http.RATE_KEY)
        hidden = tombstones.count(session, athlete)
    settings = app.config.sources.get("strava", StravaSettings)
    lines = [f"Strava sync: {'enabled' if settings.enabled else 'disabled'} (api {settings.api_base_url})"]
    if tokens.get("refresh_token"):
        expires = datetime.fromtimestamp(int(tokens.get("expires_at") or 0), UTC)
        lines += [
            f"Connected as {tokens.get('athlete_name') or '?'} (athlete {tokens.get('athlete_id')}); "
            f"scopes: {tokens.get('scope')}",
            f"Access token valid until {expires:%Y-%m-%d %H:%M} UTC (refreshed automatically).",
        ]
    elif tokens.get("revoked_at"):
        lines.append(
            f"Access was revoked in Strava ({tokens['revoked_at']}); run `runstrong-sync strava auth`."
        )
    else:
        lines.append("Not connected: run `runstrong-sync strava auth`.")
    lines.append(f"Activities known from Strava: {len(index.get('activities', {}))}")
    if hidden:
        lines.append(
            f"Activities hidden since access was revoked: {hidden} (deleted after 30 days; "
            "`runstrong-sync strava restore` brings them back)."
        )
    if cursor.get("resume_after"):
        resume = datetime.fromtimestamp(int(cursor["resume_after"]), UTC)
        lines.append(f"A stopped sync resumes from activities after {resume:%Y-%m-%d %H:%M} UTC.")
    if pending.get("activities"):
        lines.append(f"Runs waiting for HR/speed streams: {len(pending['activities'])}")
    waiting = [e for e in queue.get("events", []) if int(e.get("seq", 0)) > int(done.get("seq", 0))]
    if waiting:
        lines.append(f"Webhook events waiting for the next sync: {len(waiting)}")
    budget = http.RateBudget(settings.rate_limit_reserve, http.utc_now, rate)
    lines.append(f"Rate limit (last seen): {budget.describe()}")
    for line in lines:
        app.console.print(line, highlight=False, markup=False)
    return 0


@strava.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def disconnect(app: App, yes: bool) -> int:
    """Revoke runstrong-sync's access at Strava and delete every Strava activity and token kept here."""
    athlete = app.athlete()
    with app.db.transaction() as session:
        known = len((repo.get_state(session, athlete, connector.INDEX_KEY) or {}).get("activities", {}))
    if not yes:
        click.confirm(
            f"Delete the Strava activities kept here (about {known}) and the tokens, and revoke access?",
            abort=True,
        )
    context = pipeline.make_context(app.db, athlete, app.config, app.now())
    told_strava = False
    try:
        session_ = connector.session_for(app.config)
        client = http.make_client(session_)
        settings = app.config.sources.get("strava", StravaSettings)
        keeper = http.TokenKeeper(
            client,
            context.load_state,
            context.save_state,
            settings.client_id,
            settings.client_secret,
            http.utc_now,
        )
        api = http.StravaApi(client, keeper, http.RateBudget(0, http.utc_now))
        with http.observed(session_, api.budget):
            api.post(f"{http.STRAVA_ORIGIN}/oauth/deauthorize")
        told_strava = True
    except RunstrongError as err:
        app.errors.print(
            f"Strava could not be told ({err.message}); revoke the app yourself at "
            "https://www.strava.com/settings/apps if it is still listed.",
            highlight=False,
            markup=False,
        )
    with app.db.transaction() as session:
        removed = repo.delete_athlete_source_data(session, athlete, "strava")
    app.console.print(
        f"Disconnected{' (access revoked at Strava)' if told_strava else ''}: {removed} Strava "
        "activities and the tokens were deleted here. Activities from files stay.",
        highlight=False,
        markup=False,
    )
    return 0


@strava.command()
@pass_app
def restore(app: App) -> int:
    """Bring back the Strava activities hidden when access was revoked (kept for 30 days)."""
    with app.db.transaction() as session:
        restored = tombstones.restore(session, app.athlete())
    app.console.print(
        f"Restored {restored} activities; `runstrong-sync sync` plans with them again."
        if restored
        else "No hidden activities to restore (they are deleted 30 days after access was revoked).",
        highlight=False,
        markup=False,
    )
    return 0


@strava.group()
def webhook() -> None:
    """Strava's push events: register the secret callback URL (subscribe), or replace it (rotate)."""


PUSH_SUBSCRIPTIONS = f"{http.STRAVA_ORIGIN}/api/v3/push_subscriptions"


def _push_call(
    session: requests.Session, method: str, url: str, credentials: dict[str, Any], **kwargs: Any
) -> requests.Response:
    try:
        answer = session.request(method, url, **kwargs)
    except requests.RequestException as err:
        raise RunstrongError(
            f"Strava's push subscription API did not answer ({type(err).__name__}).",
            ["Check the network (and sources.strava.api_base_url), then try again."],
        ) from err
    if answer.status_code >= 400:
        raise RunstrongError(
            f"Strava refused the push subscription request ({answer.status_code}): {answer.text[:300]}",
            [
                "Strava checks the callback URL while subscribing: the server (`runstrong-sync serve` or "
                "the daemon) must be running and reachable at server.public_url over https.",
                f"client_id {credentials['client_id']} must be your API application's.",
            ],
        )
    return answer


def subscribe_callback(app: App, url: str) -> int:
    """Replace the app's push subscription (Strava allows one) by one for ``url``; returns its id."""
    client_id, client_secret = _credentials(app.config.sources.strava)
    credentials: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
    session = connector.session_for(app.config)
    listed = _push_call(session, "GET", PUSH_SUBSCRIPTIONS, credentials, params=credentials).json()
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and "id" in item:
            _push_call(
                session, "DELETE", f"{PUSH_SUBSCRIPTIONS}/{item['id']}", credentials, params=credentials
            )
    verify = app.config.sources.strava.webhook_verify_token or url.rsplit("/", 1)[-1]
    form = {**credentials, "callback_url": url, "verify_token": verify}
    created = _push_call(session, "POST", PUSH_SUBSCRIPTIONS, credentials, data=form).json()
    return int(created["id"]) if isinstance(created, dict) and "id" in created else 0


def _public_url(app: App, url: str | None) -> str:
    base = url or app.config.server.public_url
    if not base:
        raise ConfigError(
            "The server's public address is not known.",
            ["Set server.public_url (the https:// address of your reverse proxy) or pass --url."],
        )
    return base


@webhook.command()
@click.option("--url", help="The server's public https:// address (default: server.public_url).")
@pass_app
def subscribe(app: App, url: str | None) -> int:
    """Register this install's secret callback URL with Strava (the server must be running)."""
    secret = webhooks.ensure_secret(app.db, datetime.now(UTC))
    subscription = subscribe_callback(app, webhooks.callback_url(_public_url(app, url), secret))
    app.console.print(
        f"Strava sends push events to {_public_url(app, url).rstrip('/')}{webhooks.WEBHOOK_PATH}/<secret> "
        f"(subscription {subscription}).",
        highlight=False,
        markup=False,
    )
    return 0


@webhook.command()
@click.option("--url", help="The server's public https:// address (default: server.public_url).")
@click.option("--no-subscribe", is_flag=True, help="Only replace the secret; subscribe again later.")
@pass_app
def rotate(app: App, url: str | None, no_subscribe: bool) -> int:
    """Replace the secret in the callback URL (the old URL answers 404) and subscribe again."""
    base = None if no_subscribe else _public_url(app, url)
    secret = webhooks.rotate_secret(app.db, datetime.now(UTC))
    if base is None:
        app.console.print("New webhook secret stored; run `runstrong-sync strava webhook subscribe`.")
        return 0
    subscription = subscribe_callback(app, webhooks.callback_url(base, secret))
    app.console.print(
        f"New webhook secret in use (subscription {subscription}); the old callback URL answers 404.",
        highlight=False,
        markup=False,
    )
    return 0
