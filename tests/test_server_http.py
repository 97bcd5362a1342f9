"""The feed server over real sockets on 127.0.0.1: `runstrong-sync serve` in its own process."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import formatdate
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from runstrong_sync import pipeline, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.plan import reconcile
from runstrong_sync.server import create_app
from runstrong_sync.server.run import serve_in_thread
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from tests.feedkit import weekly_sessions

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 3, 30, tzinfo=BERLIN)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def prepare(folder: Path) -> Path:
    """A configuration, a database with a planned month, and the feeds written from it."""
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "config.toml"
    config_path.write_text(
        f'data_dir = "{folder / "data"}"\n[athlete]\ntime_zone = "Europe/Berlin"\n'
        '[feed]\nbusy_only_feed = true\npast_weeks = 52\n[server]\npublic_url = "https://cal.example.org"\n',
        encoding="utf-8",
    )
    config = Config.model_validate(
        {
            "data_dir": str(folder / "data"),
            "athlete": {"time_zone": "Europe/Berlin"},
            "feed": {"busy_only_feed": True, "past_weeks": 52},
        }
    )
    db = open_database(config.database_url)
    athlete = pipeline.athlete_id(db, config, NOW)
    planned = reconcile(weekly_sessions(date(2025, 11, 24), 54, "Europe/Berlin"), [], NOW)
    with db.transaction() as session:
        repo.save_sessions(session, athlete, planned, "Europe/Berlin", NOW)
    publishing.publish(db, athlete, config, NOW)
    db.dispose()
    return config_path


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    token: str
    stdout: str
    log: Path
    folder: Path

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def path(self, name: str = "strength", token: str | None = None) -> str:
        return f"/feed/{token or self.token}/{name}.ics"

    def feed_file(self, name: str = "strength") -> Path:
        suffix = "" if name == "strength" else f"-{name}"
        return self.folder / "data" / f"runstrong{suffix}.ics"


def start_server(folder: Path) -> Server:
    config_path = prepare(folder)
    port = free_port()
    log = folder / "server.log"
    log_handle = log.open("w")
    environ = {**os.environ, "RUNSTRONG_CONFIG": str(config_path)}
    environ.pop("RUNSTRONG_TODAY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "runstrong_sync", "--today", "2026-11-23", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=log_handle,
        text=True,
        env=environ,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "webcal://" in line and "busy" in line:
            break
    stdout = "".join(lines)
    match = re.search(r"https://cal\.example\.org/feed/([A-Za-z0-9_-]+)/strength\.ics", stdout)
    assert match, stdout + log.read_text()
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    log_handle.close()  # the child process holds its own copy
    return Server(process, port, match.group(1), stdout, log, folder)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    stop(running)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "serve")
    yield running
    stop(running)


def get(server: Server, path: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    connection = server.connection()
    try:
        connection.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_prints_https_and_webcal_urls(server: Server) -> None:
    for name in ("strength", "busy"):
        assert f"https://cal.example.org/feed/{server.token}/{name}.ics" in server.stdout
        assert f"webcal://cal.example.org/feed/{server.token}/{name}.ics" in server.stdout
    assert len(server.token) >= 22  # at least 128 random bits in URL-safe base64


def test_200_with_validators(server: Server) -> None:
    status, headers, body = get(server, server.path())
    assert status == 200
    assert body == server.feed_file().read_bytes()
    assert len(body) > 100_000  # a year of sessions
    assert headers["content-type"] == "text/calendar; charset=utf-8"
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["etag"])  # strong: no W/
    assert headers["last-modified"] == formatdate(int(server.feed_file().stat().st_mtime), usegmt=True)
    assert headers["content-length"] == str(len(body))
    assert "content-encoding" not in headers and "accept-encoding" in headers["vary"].lower()
    _, busy_headers, busy = get(server, server.path("busy"))
    assert busy == server.feed_file("busy").read_bytes() and busy_headers["etag"] != headers["etag"]


def test_304_on_if_none_match_and_on_if_modified_since(server: Server) -> None:
    _, headers, _ = get(server, server.path())
    status, again, body = get(server, server.path(), If_None_Match=headers["etag"])
    assert (status, body) == (304, b"") and again["etag"] == headers["etag"]
    assert get(server, server.path(), If_None_Match=f'"other", W/{headers["etag"]}')[0] == 304
    assert get(server, server.path(), If_None_Match='"other"')[0] == 200
    assert get(server, server.path(), If_Modified_Since=headers["last-modified"])[0] == 304
    earlier = formatdate(int(server.feed_file().stat().st_mtime) - 3600, usegmt=True)
    assert get(server, server.path(), If_Modified_Since=earlier)[0] == 200
    assert get(server, server.path(), If_Modified_Since="not a date")[0] == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    assert (
        get(server, server.path(), If_None_Match='"other"', If_Modified_Since=headers["last-modified"])[0]
        == 200
    )


def test_head_has_the_headers_of_get_and_no_body(server: Server) -> None:
    _, get_headers, body = get(server, server.path())
    status, headers, head_body = get(server, server.path(), "HEAD")
    assert status == 200 and head_body == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert headers[name] == get_headers[name]
    assert int(headers["content-length"]) == len(body)


def test_gzip_when_asked(server: Server) -> None:
    status, headers, body = get(server, server.path(), Accept_Encoding="gzip, deflate")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == server.feed_file().read_bytes()
    assert len(body) * 5 < len(gzip.decompress(body))
    _, plain, _ = get(server, server.path())
    assert headers["etag"] != plain["etag"]
    assert get(server, server.path(), Accept_Encoding="gzip", If_None_Match=headers["etag"])[0] == 304
    _, refused, _ = get(server, server.path(), Accept_Encoding="gzip;q=0, identity")
    assert "content-encoding" not in refused


def test_wrong_token_is_404(server: Server) -> None:
    near = server.token[:-1] + ("A" if server.token[-1] != "A" else "B")
    for token in (near, secrets.token_urlsafe(24), "", "x", server.token.upper(), server.token + "x"):
        status, _, body = get(server, server.path(token=token) if token else "/feed//strength.ics")
        assert status == 404, token
        assert server.token.encode() not in body
    assert get(server, server.path("runs"))[0] == 404  # not enabled
    assert get(server, f"/feed/{server.token}/other.ics")[0] == 404
    assert get(server, server.path(), "POST")[0] == 405


def test_wrong_tokens_take_the_same_time_whatever_they_share(server: Server) -> None:
    """A token that differs only in its last character is answered no faster or slower than
    one that shares nothing: medians over interleaved requests on one connection."""
    near = server.token[:-1] + ("A" if server.token[-1] != "A" else "B")
    far = secrets.token_urlsafe(24)
    connection = server.connection()
    times: dict[str, list[float]] = {"near": [], "far": []}
    try:
        for round_ in range(400):
            for kind, token in (
                (("near", near), ("far", far)) if round_ % 2 else (("far", far), ("near", near))
            ):
                started = time.perf_counter()
                connection.request("GET", server.path(token=token))
                response = connection.getresponse()
                response.read()
                times[kind].append(time.perf_counter() - started)
                assert response.status == 404
    finally:
        connection.close()
    near_median, far_median = statistics.median(times["near"][50:]), statistics.median(times["far"][50:])
    assert abs(near_median - far_median) < max(0.0002, 0.25 * min(near_median, far_median)), (
        near_median,
        far_median,
    )


def test_access_log_never_shows_the_token(server: Server) -> None:
    wrong = secrets.token_urlsafe(24)
    get(server, server.path())
    get(server, server.path(token=wrong))
    get(server, server.path() + "?token=" + wrong)
    time.sleep(0.2)
    log = server.log.read_text()
    assert '"GET /feed/<token>/strength.ics HTTP/1.1" 200' in log
    assert '"GET /feed/<token>/strength.ics HTTP/1.1" 404' in log
    assert server.token not in log and wrong not in log


def test_a_new_feed_file_is_served_within_seconds(own_server: Server) -> None:
    _, before, _ = get(own_server, own_server.path())
    path = own_server.feed_file()
    data = path.read_bytes().replace(b"Strength: glutes & calves", b"Strength: hips & calves", 1)
    temporary = path.with_suffix(".new")
    temporary.write_bytes(data)
    temporary.replace(path)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status, headers, body = get(own_server, own_server.path(), If_None_Match=before["etag"])
        if status == 200:
            assert body == data and headers["etag"] != before["etag"]
            return
        time.sleep(0.1)
    pytest.fail("the server kept serving the old feed")


def test_rotate_token_retires_the_old_url(own_server: Server) -> None:
    environ = {**os.environ, "RUNSTRONG_CONFIG": str(own_server.folder / "config.toml")}
    result = subprocess.run(
        [sys.executable, "-m", "runstrong_sync", "feed", "rotate-token", "--yes"],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (new_token,) = set(re.findall(r"webcal://cal\.example\.org/feed/([A-Za-z0-9_-]+)/", result.stdout))
    assert new_token != own_server.token and len(new_token) >= 22
    deadline = time.monotonic() + 5
    while get(own_server, own_server.path())[0] != 404:
        assert time.monotonic() < deadline, "the old token still works"
        time.sleep(0.1)
    assert get(own_server, own_server.path(token=new_token))[0] == 200


@contextmanager
def in_thread(app: Starlette) -> Iterator[int]:
    """The application under the project's server (granian) in a thread of this process."""
    port = free_port()
    server = serve_in_thread(app, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.stop()


def test_other_routes_can_be_added(tmp_path: Path) -> None:
    prepare(tmp_path)
    config = Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "athlete": {"time_zone": "Europe/Berlin"}}
    )
    db = open_database(config.database_url)

    async def webhook(request: Request) -> PlainTextResponse:
        athlete = request.app.state.feeds.resolve(request.query_params.get("token", ""))
        return PlainTextResponse(f"hook {athlete}")

    with db.transaction() as session:
        token = repo.feed_token(session, pipeline.athlete_id(db, config, NOW))
    try:
        with in_thread(create_app(config, db, [Route("/strava/webhook", webhook)])) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", f"/strava/webhook?token={token}")
            assert connection.getresponse().read() == b"hook default"
            connection.request("GET", "/strava/webhook?token=wrong")
            assert connection.getresponse().read() == b"hook None"
            connection.request("GET", f"/feed/{token}/strength.ics")
            response = connection.getresponse()
            assert response.status == 200 and response.read().startswith(b"BEGIN:VCALENDAR\r\n")
            connection.close()
    finally:
        db.dispose()


def test_a_feed_not_yet_written_is_503_not_404(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "athlete": {"time_zone": "Europe/Berlin"}}
    )
    db = open_database(config.database_url)
    with db.transaction() as session:
        token = repo.feed_token(session, pipeline.athlete_id(db, config, NOW))
    try:
        with in_thread(create_app(config, db)) as port:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", f"/feed/{token}/strength.ics")
            response = connection.getresponse()
            assert response.status == 503 and response.getheader("Retry-After") == "3600"
            assert b"runstrong-sync sync" in response.read()
            connection.close()
    finally:
        db.dispose()


def test_no_urls_keeps_the_secret_out_of_the_output(tmp_path: Path) -> None:
    config_path = prepare(tmp_path)
    port = free_port()
    environ = {**os.environ, "RUNSTRONG_CONFIG": str(config_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "runstrong_sync", "serve", "--no-urls", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert "Serving the calendar feeds" in out
    assert "/feed/" not in out + err


def test_if_modified_since_in_all_three_http_date_forms(server: Server) -> None:
    """RFC 9110 5.6.7: IMF-fixdate, the obsolete RFC 850 form and asctime are all honoured."""
    from datetime import UTC, datetime, timedelta

    modified = datetime.fromtimestamp(int(server.feed_file().stat().st_mtime), UTC)
    for when, expected in ((modified, 304), (modified - timedelta(hours=1), 200)):
        forms = (
            when.strftime("%a, %d %b %Y %H:%M:%S GMT"),  # RFC 1123 / IMF-fixdate
            when.strftime("%A, %d-%b-%y %H:%M:%S GMT"),  # RFC 850
            when.strftime("%a %b ") + f"{when.day:>2}" + when.strftime(" %H:%M:%S %Y"),  # asctime
        )
        for form in forms:
            assert get(server, server.path(), If_Modified_Since=form)[0] == expected, form
