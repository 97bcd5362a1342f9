"""A Strava API double: real HTTP on 127.0.0.1 in a thread, serving the payload shapes in fixtures/strava.

It keeps activities, issues and rotates tokens, counts requests against 15-minute and daily
windows (answering 429 over the limit, with the usage headers), and fails, stalls or refuses
on demand. Windows advance only when a test says so (``new_window``/``new_day``), so runs are
deterministic.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "strava"
ATHLETE_ID = 134815


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


SUMMARY_TEMPLATE = fixture("swagger_athlete_activities.json")[0]
UNDOCUMENTED_TEMPLATE = fixture("strava_offline_athlete_activities_page1.json")[0]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_activity(
    activity_id: int,
    start: datetime,
    *,
    offset_s: int = 3600,
    sport_type: str = "Run",
    moving_s: int = 2700,
    distance_m: float = 9000.0,
    heart_rate: float | None = 140.0,
    trainer: bool = False,
    workout_type: int | None = 0,
    name: str | None = None,
    intensity: str = "easy",
) -> dict[str, Any]:
    """A SummaryActivity in the shape of Strava's own example, plus the undocumented fields."""
    raw = copy.deepcopy(SUMMARY_TEMPLATE)
    for key in ("visibility", "heartrate_opt_out", "display_hide_heartrate_option", "start_latitude"):
        raw[key] = copy.deepcopy(UNDOCUMENTED_TEMPLATE.get(key))
    raw.update(
        id=activity_id,
        name=name or f"{sport_type} {activity_id}",
        athlete={"id": ATHLETE_ID, "resource_state": 1},
        type="Run" if sport_type.endswith("Run") else sport_type,
        sport_type=sport_type,
        start_date=iso(start),
        start_date_local=iso(start + timedelta(seconds=offset_s)),
        utc_offset=offset_s,
        moving_time=moving_s,
        elapsed_time=moving_s + 60,
        distance=distance_m,
        average_speed=round(distance_m / moving_s, 3) if moving_s else 0,
        has_heartrate=heart_rate is not None,
        average_heartrate=heart_rate,
        max_heartrate=heart_rate + 20 if heart_rate is not None else None,
        trainer=trainer,
        workout_type=workout_type,
        suffer_score=None,
        start_latlng=None if trainer else [52.5, 13.4],
        map={"id": f"a{activity_id}", "summary_polyline": None if trainer else "abc", "resource_state": 2},
        manual=False,
        private=False,
    )
    raw["_intensity"] = intensity  # the fake's own note for the streams it generates; stripped when served
    return raw


def streams_for(activity: dict[str, Any]) -> dict[str, Any]:
    """Streams keyed by type, shaped like fixtures/strava/composed_activity_streams_key_by_type.json."""
    template = fixture("composed_activity_streams_key_by_type.json")
    moving = int(activity.get("moving_time") or 0)
    speed = float(activity.get("average_speed") or 0.0)
    hr = activity.get("average_heartrate")
    hard = activity.get("_intensity") == "hard"
    times = list(range(0, moving, 2))
    heart, velocity, distance = [], [], []
    travelled = 0.0
    for t in times:
        fast = hard and (t // 180) % 2 == 1
        v = speed * (1.25 if fast else 0.9) if hard else speed
        velocity.append(round(v, 2))
        travelled += v * 2
        distance.append(round(travelled, 1))
        if hr is not None:
            heart.append(round((hr + (25 if fast else -5)) if hard else hr))
    out: dict[str, Any] = {}
    for key, data in (("time", times), ("velocity_smooth", velocity), ("distance", distance)):
        entry = dict(template[key])
        entry.update(data=data, original_size=len(data))
        out[key] = entry
    if hr is not None:
        entry = dict(template["heartrate"])
        entry.update(data=heart, original_size=len(heart))
        out["heartrate"] = entry
    return out


@dataclass
class Failure:
    pattern: re.Pattern[str]
    status: int
    body: Any
    count: int
    skip: int = 0  # let this many matching requests through first


@dataclass
class Delay:
    pattern: re.Pattern[str]
    seconds: float
    count: int


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    status: int = 0


@dataclass
class FakeStrava:
    client_id: str = "12345"
    client_secret: str = "fake-client-secret"
    granted_scope: str = "read,activity:read_all,profile:read_all"
    strict_rotation: bool = False  # True: the old refresh token dies the moment a new one is issued
    limits: dict[str, tuple[int, int]] = field(
        default_factory=lambda: {"overall": (200, 2000), "read": (100, 1000)}
    )
    other_apps_usage: int = 0  # requests other callers spent in this window (the limit is shared)
    inactive: bool = False
    activities: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    webhook_url: str | None = None
    url: str = ""

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.used: dict[str, list[int]] = {"overall": [0, 0], "read": [0, 0]}
        self.access_tokens: dict[str, int] = {}  # token -> expires_at
        self.fresh_access: dict[str, str] = {}  # unused access token -> refresh token it retires
        self.refresh_tokens: set[str] = set()
        self.codes: dict[str, str] = {}
        self.failures: list[Failure] = []
        self.delays: list[Delay] = []
        self.hidden: dict[int, int] = {}  # page -> items dropped from it (Strava's short pages)
        self.responses_429 = 0
        self.deauthorized = False
        self.subscriptions: dict[int, str] = {}  # push subscription id -> callback URL
        self.skew_s = 0.0  # the fake's clock runs ahead when a test moves to the next window

    def time(self) -> float:
        return time.time() + self.skew_s

    def clock(self) -> datetime:
        """The time as this server sees it; a client sharing it sees the same windows."""
        return datetime.fromtimestamp(self.time(), UTC)

    # --- test controls ------------------------------------------------------------------------------

    def add(self, activity: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.activities[int(activity["id"])] = activity
        return activity

    def remove(self, activity_id: int) -> None:
        with self.lock:
            self.activities.pop(activity_id, None)

    def new_window(self) -> None:
        with self.lock:
            self.skew_s += 15 * 60
            for pair in self.used.values():
                pair[0] = 0
            self.other_apps_usage = 0

    def new_day(self) -> None:
        with self.lock:
            self.skew_s += 24 * 3600
            for pair in self.used.values():
                pair[0] = pair[1] = 0
            self.other_apps_usage = 0

    def fail(self, path: str, status: int, count: int = 1, body: Any = None, skip: int = 0) -> None:
        self.failures.append(Failure(re.compile(path), status, body, count, skip))

    def delay(self, path: str, seconds: float, count: int = 1) -> None:
        self.delays.append(Delay(re.compile(path), seconds, count))

    def issue_tokens(self, expires_in: int = 21600) -> dict[str, Any]:
        with self.lock:
            access, refresh = secrets.token_hex(20), secrets.token_hex(20)
            expires_at = int(self.time()) + expires_in
            self.access_tokens[access] = expires_at
            self.refresh_tokens.add(refresh)
            return {
                "token_type": "Bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_at": expires_at,
                "expires_in": expires_in,
            }

    def grant(self, *, expires_in: int = 21600) -> dict[str, Any]:
        """Tokens as `strava auth` stores them, for tests that start already connected."""
        tokens = self.issue_tokens(expires_in)
        return {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_at": tokens["expires_at"],
            "scope": self.granted_scope,
            "athlete_id": ATHLETE_ID,
        }

    def expire_all_access_tokens(self) -> None:
        with self.lock:
            for token in self.access_tokens:
                self.access_tokens[token] = 0

    def requests(self, path_pattern: str = "", method: str | None = None) -> list[Logged]:
        pattern = re.compile(path_pattern)
        return [r for r in self.log if pattern.search(r.path) and (method is None or r.method == method)]

    def api_requests(self) -> int:
        return len(self.requests(r"^/api/v3/"))

    def send_event(self, event: dict[str, Any], url: str | None = None) -> requests.Response:
        target = url or self.webhook_url
        assert target, "no webhook callback URL"
        return requests.post(target, json=event, timeout=2)

    # --- request handling ---------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        overall, read = self.used["overall"], self.used["read"]
        return {
            "X-RateLimit-Limit": "{},{}".format(*self.limits["overall"]),
            "X-RateLimit-Usage": f"{overall[0] + self.other_apps_usage},{overall[1]}",
            "X-ReadRateLimit-Limit": "{},{}".format(*self.limits["read"]),
            "X-ReadRateLimit-Usage": f"{read[0] + self.other_apps_usage},{read[1]}",
        }

    def _count(self, method: str) -> bool:
        """Count the request (a refused one counts too); False when it is over a limit."""
        kinds = ["overall"] + (["read"] if method == "GET" else [])
        over = False
        for kind in kinds:
            pair, limit = self.used[kind], self.limits[kind]
            pair[0] += 1
            pair[1] += 1
            if pair[0] + self.other_apps_usage > limit[0] or pair[1] > limit[1]:
                over = True
        return not over

    def _delay(self, path: str) -> None:
        for delay in self.delays:
            if delay.count > 0 and delay.pattern.search(path):
                delay.count -= 1
                time.sleep(delay.seconds)
                break

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str], auth: str):
        """-> (status, json body, extra headers)"""
        self._delay(path)
        with self.lock:
            if path == "/oauth/authorize":
                return self._authorize(query)
            if path == "/oauth/token" and method == "POST":
                return self._token(form)
            if path.startswith("/api/v3/push_subscriptions"):
                return self._push(method, path, {**query, **form})
            if not path.startswith("/api/v3/") and path != "/oauth/deauthorize":
                return 404, fixture("error_404_record_not_found.json"), {}
            headers = self._headers()
            if path.startswith("/api/v3/"):
                allowed = self._count(method)
                headers = self._headers()
                if not allowed:
                    self.responses_429 += 1
                    return 429, fixture("error_429_rate_limit.json"), headers
            injected = self._injected_failure(path)
            if injected is not None:
                return injected[0], injected[1], headers
            if self.inactive:
                return 403, fixture("error_403_application_inactive.json"), headers
            token = auth.removeprefix("Bearer ").strip()
            expires = self.access_tokens.get(token)
            if expires is None or expires < self.time():
                return 401, fixture("error_401_authorization.json"), headers
            retired = self.fresh_access.pop(token, None)
            if retired is not None:  # the new access token is in use: the old refresh token is done
                self.refresh_tokens.discard(retired)
            if "activity:read" not in self.granted_scope and "activities" in path:
                return 401, fixture("error_401_missing_activity_read_permission.json"), headers
            return (*self._api(method, path, query), headers)

    def _injected_failure(self, path: str):
        """-> (status, json body) of the next failure set up for ``path``, or None."""
        for failure in self.failures:
            if failure.count > 0 and failure.pattern.search(path):
                if failure.skip > 0:
                    failure.skip -= 1
                    continue
                failure.count -= 1
                if failure.status == 429:
                    self.responses_429 += 1
                return failure.status, failure.body or {"message": "Injected failure"}
        return None

    def _authorize(self, query: dict[str, str]):
        if query.get("client_id") != self.client_id:
            return 400, {"message": "Bad Request", "errors": [{"field": "client_id"}]}, {}
        code = secrets.token_hex(8)
        asked = set(query.get("scope", "").split(","))
        granted = ",".join(s for s in self.granted_scope.split(",") if s in asked)
        self.codes[code] = granted
        target = (
            query["redirect_uri"]
            + "?"
            + urlencode({"state": query.get("state", ""), "code": code, "scope": granted})
        )
        return 302, {}, {"Location": target}

    def _token(self, form: dict[str, str]):
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"message": "Bad Request", "errors": [{"field": "client_id", "code": "invalid"}]}, {}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            if form.get("code") not in self.codes:
                return 400, {"message": "Bad Request", "errors": [{"field": "code", "code": "invalid"}]}, {}
            self.codes.pop(form["code"])
            body = self.issue_tokens()
            athlete = fixture("oauth_token_authorization_code_response.json")["athlete"]
            body["athlete"] = dict(athlete, id=ATHLETE_ID)
            return 200, body, {}
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in self.refresh_tokens:
                return 400, fixture("error_400_invalid_refresh_token.json"), {}
            body = self.issue_tokens()
            if self.strict_rotation:
                self.refresh_tokens.discard(old)
            else:
                self.fresh_access[body["access_token"]] = old
            return 200, body, {}
        return 400, {"message": "Bad Request"}, {}

    def _push(self, method: str, path: str, params: dict[str, str]):
        """Push subscriptions, by the app's credentials; creating one checks the callback first."""
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            return 401, {"message": "Authorization Error", "errors": [{"field": "client_id"}]}, {}
        match = re.fullmatch(r"/api/v3/push_subscriptions(?:/(\d+))?", path)
        if match is None:
            return 404, fixture("error_404_record_not_found.json"), {}
        if method == "GET":
            listed = fixture("push_subscription_list_response.json")[0]
            return 200, [dict(listed, id=i, callback_url=u) for i, u in self.subscriptions.items()], {}
        if method == "DELETE" and match.group(1):
            return (204, None, {}) if self.subscriptions.pop(int(match.group(1)), None) else (404, {}, {})
        if self.subscriptions:
            return 400, {"message": "Bad Request", "errors": [{"code": "already exists"}]}, {}
        callback = params.get("callback_url", "")
        challenge = secrets.token_hex(8)
        check = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": params.get("verify_token", ""),
        }
        try:
            answer = requests.get(callback, params=check, timeout=2)
            ok = answer.status_code == 200 and answer.json() == {"hub.challenge": challenge}
        except (requests.RequestException, ValueError):
            ok = False
        if not ok:
            return (
                400,
                {"message": "Bad Request", "errors": [{"field": "callback url", "code": "not verifiable"}]},
                {},
            )
        subscription = fixture("push_subscription_create_response.json")["id"] + len(self.log)
        self.subscriptions[subscription] = callback
        self.webhook_url = callback
        return 201, {"id": subscription}, {}

    def _api(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path in ("/oauth/deauthorize", "/api/v3/oauth/deauthorize") and method == "POST":
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.deauthorized = True
            return 200, {"access_token": "revoked"}
        if path == "/api/v3/athlete/activities":
            return 200, self._list(query)
        if path == "/api/v3/athlete/zones":
            if "profile:read_all" not in self.granted_scope:
                return 401, fixture("error_401_authorization.json")
            return 200, fixture("composed_athlete_zones.json")
        if path == "/api/v3/athlete":
            return 200, fixture("oauth_token_authorization_code_response.json")["athlete"]
        match = re.fullmatch(r"/api/v3/activities/(\d+)(/streams)?", path)
        if match:
            activity = self.activities.get(int(match.group(1)))
            if activity is None:
                return 404, fixture("error_404_record_not_found.json")
            if match.group(2):
                return 200, streams_for(activity)
            detail = self._served(activity)
            detail.update(resource_state=3, description=None, calories=512.0, laps=[], splits_metric=[])
            return 200, detail
        return 404, fixture("error_404_record_not_found.json")

    @staticmethod
    def _served(activity: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in activity.items() if not k.startswith("_")}

    def _list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        after = int(query["after"]) if "after" in query else None
        before = int(query["before"]) if "before" in query else None
        page = int(query.get("page", 1))
        per_page = min(int(query.get("per_page", 30)), 200)

        def start(a: dict[str, Any]) -> float:
            return datetime.fromisoformat(a["start_date"].replace("Z", "+00:00")).timestamp()

        items = [
            a
            for a in self.activities.values()
            if (after is None or start(a) > after) and (before is None or start(a) < before)
        ]
        items.sort(key=start, reverse=after is None)
        chunk = items[(page - 1) * per_page : page * per_page]
        drop = self.hidden.get(page, 0)
        if drop:
            chunk = chunk[drop:]
        return [self._served(a) for a in chunk]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        form = {k: v[-1] for k, v in parse_qs(body).items()} if body else {}
        fake = self.server.fake
        entry = Logged(method, parts.path, query)
        fake.log.append(entry)
        status, payload, headers = fake.handle(
            method, parts.path, query, form, self.headers.get("Authorization", "")
        )
        entry.status = status
        data = json.dumps(payload).encode() if payload is not None else b""
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeStrava


def serve(fake: FakeStrava) -> Iterator[FakeStrava]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="fake-strava", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
