"""A fake Garmin Connect on 127.0.0.1, reached by the unmodified garminconnect library.

The library talks to fixed https hosts (sso.garmin.com, diauth.garmin.com, connectapi.garmin.com).
Both of its HTTP stacks (requests and curl_cffi) honour the standard proxy and CA variables, so the
fake is an HTTPS proxy: it answers CONNECT, terminates TLS with a certificate for those hosts issued
by a throwaway test CA (trustme), and serves Garmin's endpoints itself. Nothing leaves the machine.
``GarminFake.environment()`` gives the variables (HTTPS_PROXY, REQUESTS_CA_BUNDLE...) to set.

Payload shapes follow fixtures/garmin/README.md (the library's own code and tests, and public
descriptions of Garmin Connect's endpoints).
"""

from __future__ import annotations

import base64
import io
import json
import socket
import ssl
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

HOSTS = ("sso.garmin.com", "diauth.garmin.com", "connectapi.garmin.com", "connect.garmin.com")
CLIENT_ID = "GARMIN_CONNECT_MOBILE_ANDROID_DI_2025Q2"


def jwt(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}.sig"


@dataclass
class Activity:
    """One activity on the fake account: its list summary and its original FIT file."""

    activity_id: int
    start_utc: datetime
    fit: bytes
    type_key: str = "running"
    name: str = "Morning Run"
    distance_m: float = 10000.0
    duration_s: float = 3000.0
    manual: bool = False  # entered by hand: no file

    def summary(self) -> dict[str, Any]:
        # Shape of /activitylist-service/activities/search/activities items (fixtures/garmin).
        return {
            "activityId": self.activity_id,
            "activityName": self.name,
            "startTimeLocal": self.start_utc.strftime("%Y-%m-%d %H:%M:%S"),
            "startTimeGMT": self.start_utc.strftime("%Y-%m-%d %H:%M:%S"),
            "activityType": {"typeId": 1, "typeKey": self.type_key, "parentTypeId": 17},
            "distance": self.distance_m,
            "duration": self.duration_s,
            "elapsedDuration": self.duration_s,
            "movingDuration": self.duration_s,
            "averageHR": 140.0,
            "maxHR": 170.0,
            "manualActivity": self.manual,
            "hasPolyline": True,
        }

    def original_zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{self.activity_id}_ACTIVITY.fit", self.fit)
        return buffer.getvalue()


@dataclass
class State:
    email: str = "runner@example.com"
    password: str = "correct horse"
    mfa_code: str | None = None  # set: the account asks for this code
    token_lifetime_s: int = 3600
    activities: list[Activity] = field(default_factory=list)
    workouts: dict[int, dict[str, Any]] = field(default_factory=dict)
    scheduled: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 900_000_000
    access_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    sso_429: bool = False  # every sign-in request answers 429 (Garmin's sign-in block)
    refuse_all: bool = False  # every API call answers 401 and refreshes are refused
    fail_next: list[int] = field(default_factory=list)  # statuses for the next API calls
    download_delay_s: float = 0.0
    slow_from: int = 0  # downloads served at full speed before the delay applies
    downloads: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # "METHOD host/path" -> count
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> int:
        with self.lock:
            self.next_id += 1
            return self.next_id

    def issue_tokens(self) -> dict[str, Any]:
        serial = self.new_id()
        access = jwt({"client_id": CLIENT_ID, "exp": int(time.time()) + self.token_lifetime_s, "n": serial})
        refresh = f"refresh-{serial}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_s,
        }

    @property
    def sign_ins(self) -> int:
        return self.calls["POST sso.garmin.com/mobile/api/login"]

    @property
    def refreshes(self) -> int:
        return self.calls["POST diauth.garmin.com/di-oauth2-service/oauth/token refresh_token"]

    @property
    def api_calls(self) -> int:
        return sum(n for key, n in self.calls.items() if "connectapi.garmin.com" in key)

    def total(self) -> int:
        return sum(self.calls.values())


class _Api(BaseHTTPRequestHandler):
    """Requests inside the TLS tunnel; ``host`` is the CONNECT target."""

    protocol_version = "HTTP/1.1"
    host = ""
    state: State

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
            self.wfile.flush()

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        key = f"{method} {self.host}{parts.path}"
        if self.host == "diauth.garmin.com":
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            key += f" {form.get('grant_type', '?').rsplit('/', 1)[-1]}"
            with self.state.lock:
                self.state.calls[key] += 1
                self.state.log.append(key)
            self._diauth(form)
            return
        with self.state.lock:
            self.state.calls[key] += 1
            self.state.log.append(key)
        if self.host == "sso.garmin.com":
            self._sso(parts.path, body)
        elif self.host == "connectapi.garmin.com":
            self._connectapi(method, parts.path, parse_qs(parts.query), body)
        else:
            self._send(404)

    # --- sign-in --------------------------------------------------------------------------------

    def _sso(self, path: str, body: bytes) -> None:
        if self.state.sso_429:
            self._json(429, {"error": {"status-code": "429"}})
            return
        try:
            data = json.loads(body or b"{}")
        except ValueError:  # the library's form-based flows
            self._send(404)
            return
        if path == "/mobile/api/login":
            if data.get("username") != self.state.email or data.get("password") != self.state.password:
                self._json(200, {"responseStatus": {"type": "INVALID_USERNAME_PASSWORD"}})
            elif self.state.mfa_code is not None:
                self._json(
                    200,
                    {
                        "responseStatus": {"type": "MFA_REQUIRED"},
                        "customerMfaInfo": {"mfaLastMethodUsed": "email"},
                    },
                )
            else:
                self._json(200, {"responseStatus": {"type": "SUCCESSFUL"}, "serviceTicketId": "ST-1-fake"})
        elif path.endswith("/api/mfa/verifyCode"):
            if data.get("mfaVerificationCode") == self.state.mfa_code:
                self._json(200, {"responseStatus": {"type": "SUCCESSFUL"}, "serviceTicketId": "ST-2-mfa"})
            else:
                self._json(200, {"responseStatus": {"type": "INVALID_MFA_CODE"}})
        else:
            self._send(404)

    def _diauth(self, form: dict[str, str]) -> None:
        grant = form.get("grant_type", "")
        if grant.endswith("service_ticket") and form.get("service_ticket", "").startswith("ST-"):
            self._json(200, self.state.issue_tokens())
        elif grant == "refresh_token" and not self.state.refuse_all:
            token = form.get("refresh_token", "")
            if token in self.state.refresh_tokens:
                self.state.refresh_tokens.discard(token)  # rotated
                self._json(200, self.state.issue_tokens())
            else:
                self._json(401, {"error": "invalid_grant"})
        else:
            self._json(401, {"error": "invalid_grant"})

    # --- the API --------------------------------------------------------------------------------

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        if self.state.refuse_all or token not in self.state.access_tokens:
            return False
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return int(payload["exp"]) > time.time()

    def _connectapi(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        if not self._authorised():
            self._json(401, {"message": "Unauthorized"})
            return
        with self.state.lock:
            failure = self.state.fail_next.pop(0) if self.state.fail_next else None
        if failure is not None:
            self._json(failure, {"message": f"fake failure {failure}"})
            return
        if path == "/userprofile-service/socialProfile":
            self._json(200, {"displayName": "fake-runner", "fullName": "Fake Runner", "id": 42})
        elif path == "/userprofile-service/userprofile/user-settings":
            self._json(200, {"id": 42, "userData": {"measurementSystem": "metric"}})
        elif path == "/activitylist-service/activities/search/activities":
            self._json(200, self._activities(query))
        elif path.startswith("/download-service/files/activity/"):
            self._download(path.rsplit("/", 1)[-1])
        elif path.startswith("/workout-service/"):
            self._workouts(method, path.removeprefix("/workout-service/"), body)
        else:
            self._json(404, {"message": "not found"})

    def _activities(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        def arg(name: str, default: str) -> str:
            return query.get(name, [default])[-1]

        items = sorted(self.state.activities, key=lambda a: a.start_utc, reverse=True)
        start_date, end_date = arg("startDate", ""), arg("endDate", "")
        if start_date:
            items = [a for a in items if a.start_utc.date().isoformat() >= start_date]
        if end_date:
            items = [a for a in items if a.start_utc.date().isoformat() <= end_date]
        if arg("sortOrder", "desc") == "asc":
            items.reverse()
        start, limit = int(arg("start", "0")), int(arg("limit", "20"))
        return [a.summary() for a in items[start : start + limit]]

    def _download(self, activity_id: str) -> None:
        found = [a for a in self.state.activities if str(a.activity_id) == activity_id and not a.manual]
        if not found:
            self._json(404, {"message": "no such activity"})
            return
        data = found[0].original_zip()
        with self.state.lock:
            self.state.downloads += 1
            slow = self.state.download_delay_s and self.state.downloads > self.state.slow_from
        if slow:
            # Half the file, a pause (a test kills the client here), then the rest.
            self.send_response(200)
            self.send_header("Content-Type", "application/x-zip-compressed")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(self.state.download_delay_s)
            self.wfile.write(data[len(data) // 2 :])
            return
        self._send(200, data, "application/x-zip-compressed")

    def _workouts(self, method: str, rest: str, body: bytes) -> None:
        parts = rest.strip("/").split("/")
        state = self.state
        if method == "POST" and parts == ["workout"]:
            workout = json.loads(body)
            workout_id = state.new_id()
            workout.update({"workoutId": workout_id, "ownerId": 42})
            state.workouts[workout_id] = workout
            self._json(200, workout)
        elif method == "GET" and parts[0] == "workouts":
            self._json(200, list(state.workouts.values()))
        elif parts[0] == "workout" and len(parts) == 2 and parts[1].isdigit():
            workout_id = int(parts[1])
            if workout_id not in state.workouts:
                self._json(404, {"message": "no such workout"})
            elif method == "DELETE":
                del state.workouts[workout_id]
                for key in [k for k, v in state.scheduled.items() if v["workout"]["workoutId"] == workout_id]:
                    del state.scheduled[key]
                self._send(204)
            else:
                self._json(200, state.workouts[workout_id])
        elif parts[0] == "schedule" and len(parts) == 2 and parts[1].isdigit():
            self._schedule(method, int(parts[1]), body)
        else:
            self._json(404, {"message": "not found"})

    def _schedule(self, method: str, number: int, body: bytes) -> None:
        state = self.state
        if method == "POST":
            if number not in state.workouts:
                self._json(404, {"message": "no such workout"})
                return
            scheduled_id = state.new_id()
            entry = {
                "workoutScheduleId": scheduled_id,
                "workout": state.workouts[number],
                "calendarDate": json.loads(body)["date"],
                "ownerId": 42,
            }
            state.scheduled[scheduled_id] = entry
            self._json(200, entry)
        elif method == "DELETE":
            if state.scheduled.pop(number, None) is None:
                self._json(404, {"message": "no such schedule"})
            else:
                self._send(204)
        elif number in state.scheduled:
            self._json(200, state.scheduled[number])
        else:
            self._json(404, {"message": "no such schedule"})


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0]
        if host not in HOSTS:
            self.send_error(403, "only Garmin's hosts are faked here")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tunnel = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        handler = type("_Bound", (_Api,), {"host": host, "state": self.server.state})
        with suppress(ssl.SSLError, OSError):
            handler(tunnel, self.client_address, self.server)
        with suppress(OSError):
            tunnel.close()
        self.close_connection = True


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext
    state: State


class GarminFake:
    """``with GarminFake(tmp_path) as fake:`` then set ``fake.environment()``."""

    def __init__(self, folder: Path, state: State | None = None) -> None:
        self.state = state or State()
        self.folder = folder
        self.ca = trustme.CA()
        self.ca_file = folder / "fake-garmin-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        cert = self.ca.issue_cert(*HOSTS)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.server = _ProxyServer(("127.0.0.1", 0), _Proxy)
        self.server.tls = context
        self.server.state = self.state
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """What points the library here: the proxy, and the test CA for both HTTP stacks."""
        return {
            "HTTPS_PROXY": self.proxy_url,
            "https_proxy": self.proxy_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
            "CURL_CA_BUNDLE": str(self.ca_file),
            "SSL_CERT_FILE": str(self.ca_file),
        }

    def add_activity(self, fit: bytes, start_utc: datetime, **extra: Any) -> Activity:
        activity = Activity(self.state.new_id(), start_utc.astimezone(UTC), fit, **extra)
        self.state.activities.append(activity)
        return activity

    def __enter__(self) -> GarminFake:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running(folder: Path, state: State | None = None) -> Iterator[GarminFake]:
    with GarminFake(folder, state) as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def demo_fit_files() -> list[Path]:
    """The demo runner's FIT files (fixtures/demo, generated by the project), oldest first."""
    return sorted(DEMO.glob("*.fit"))


def fit_start(path: Path) -> datetime:
    """When the file's activity started, read by our own decoder."""
    from zoneinfo import ZoneInfo

    from runstrong_sync.connectors.formats import read_activity_file

    found = read_activity_file(path.read_bytes(), path.name, str(path), ZoneInfo("UTC"))
    return found.activities[0].start_utc


def add_demo(fake: GarminFake, paths: list[Path]) -> list[Activity]:
    return [fake.add_activity(p.read_bytes(), fit_start(p), name=p.stem) for p in paths]
