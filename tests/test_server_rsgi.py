"""The server speaks RSGI to granian: feed polls answered by ``FeedServer.__rsgi__``, every
other request through the ASGI adapter. Real HTTP on 127.0.0.1; the same feed requests are also
sent to the application served as plain ASGI, and both must answer alike."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import io
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.server import create_app
from runstrong_sync.server.app import AccessLogFile, access_file, setup_access_log
from runstrong_sync.server.run import interface_of, serve_in_thread
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import open_database
from tests.test_server_http import NOW, free_port, prepare


async def numbers(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        for number in range(5):
            yield f"{number}\n".encode()

    return StreamingResponse(parts(), media_type="text/plain")


async def echo(request: Request) -> PlainTextResponse:
    body = await request.body()
    client = request.client.host if request.client else "-"
    lines = [
        f"{request.method} {request.url.path} {request.url.query}",
        f"body {len(body)} {body[:20]!r}",
        f"x-many {request.headers.getlist('x-many')}",
        f"client {client} {request.url.scheme}",
    ]
    return PlainTextResponse("\n".join(lines), headers={"X-Echo": "yes"})


async def broken(request: Request) -> PlainTextResponse:
    raise RuntimeError("broken on purpose")


async def halfway(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        yield b"first\n"
        raise RuntimeError("broken halfway on purpose")

    return StreamingResponse(parts(), media_type="text/plain")


STREAMED: dict[str, int] = {"parts": 0}


async def endless(request: Request) -> StreamingResponse:
    async def parts() -> AsyncIterator[bytes]:
        while True:
            STREAMED["parts"] += 1
            yield b"x" * 1000
            await asyncio.sleep(0.01)

    return StreamingResponse(parts(), media_type="text/plain")


ROUTES = [
    Route("/numbers", numbers),
    Route("/echo", echo, methods=["GET", "POST"]),
    Route("/broken", broken),
    Route("/halfway", halfway),
    Route("/endless", endless),
]


class PlainASGI:
    """The same application, offered to granian as ASGI only (it has no ``__rsgi__``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@dataclass
class Served:
    port: int
    token: str
    folder: Path

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def feed(self, token: str | None = None) -> str:
        return f"/feed/{token or self.token}/strength.ics"


@contextmanager
def serving(folder: Path, interface: str) -> Iterator[Served]:
    prepare(folder)
    config = Config.model_validate(
        {"data_dir": str(folder / "data"), "athlete": {"time_zone": "Europe/Berlin"}}
    )
    db = open_database(config.database_url)
    with db.transaction() as session:
        token = repo.feed_token(session, pipeline.athlete_id(db, config, NOW))
    app = create_app(config, db, ROUTES)
    served = app if interface == "rsgi" else PlainASGI(app)
    assert str(interface_of(served)) == interface
    port = free_port()
    server = serve_in_thread(served, "127.0.0.1", port)
    try:
        yield Served(port, token, folder)
    finally:
        server.stop()
        db.dispose()


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    folder = tmp_path_factory.mktemp("rsgi")
    with serving(folder / "rsgi", "rsgi") as rsgi, serving(folder / "asgi", "asgi") as asgi:
        yield {"rsgi": rsgi, "asgi": asgi}


def without_date(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("date", "last-modified", "etag")}


FEED_CASES: list[tuple[str, dict[str, str]]] = [
    ("GET", {}),
    ("GET", {"Accept-Encoding": "gzip, deflate"}),
    ("GET", {"Accept-Encoding": "gzip;q=0, identity"}),
    ("HEAD", {}),
    ("HEAD", {"Accept-Encoding": "gzip"}),
    ("GET", {"If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"}),
]


@pytest.mark.parametrize(("method", "headers"), FEED_CASES)
def test_feed_answers_are_the_same_over_rsgi_and_asgi(
    both: dict[str, Served], method: str, headers: dict[str, str]
) -> None:
    answers = {name: served.request(method, served.feed(), headers) for name, served in both.items()}
    (status, rsgi_headers, rsgi_body), (asgi_status, asgi_headers, asgi_body) = answers.values()
    assert status == asgi_status == 200
    assert without_date(rsgi_headers) == without_date(asgi_headers)
    assert rsgi_body == asgi_body
    if method == "HEAD":
        assert rsgi_body == b"" and int(rsgi_headers["content-length"]) > 1000
    elif rsgi_headers.get("content-encoding") == "gzip":
        assert gzip.decompress(rsgi_body).startswith(b"BEGIN:VCALENDAR\r\n")
    else:
        assert rsgi_body.startswith(b"BEGIN:VCALENDAR\r\n")


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_conditional_and_unknown_requests(both: dict[str, Served], interface: str) -> None:
    served = both[interface]
    _, plain, _ = served.request("GET", served.feed())
    _, zipped, _ = served.request("GET", served.feed(), {"Accept-Encoding": "gzip"})
    assert plain["etag"] != zipped["etag"]
    for tag in (plain["etag"], zipped["etag"], f"W/{plain['etag']}", f'"other", {zipped["etag"]}', "*"):
        status, headers, body = served.request("GET", served.feed(), {"If-None-Match": tag})
        assert (status, body) == (304, b""), tag
        assert headers["etag"] == plain["etag"] and headers["vary"] == "Accept-Encoding"
    status, _, body = served.request("GET", served.feed(), {"If-None-Match": '"other"'})
    assert status == 200 and body.startswith(b"BEGIN:VCALENDAR")
    later = formatdate(time.time() + 3600, usegmt=True)
    assert served.request("GET", served.feed(), {"If-Modified-Since": later})[0] == 304
    status, headers, body = served.request("GET", served.feed(token="not-a-token"))
    assert (status, body) == (404, b"Not found\n") and headers["cache-control"] == "no-store"
    assert served.request("HEAD", served.feed(token="not-a-token"))[:3:2] == (404, b"")
    assert served.request("GET", f"/feed/{served.token}/nothing.ics")[0] == 404


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_head_sends_no_body_on_a_kept_connection(both: dict[str, Served], interface: str) -> None:
    """A body after a HEAD answer would be read as the start of the next answer."""
    served = both[interface]
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw:
        ask = f"HEAD {served.feed()} HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n"
        raw.sendall(ask.encode())
        received = b""
        while b"client " not in received:
            chunk = raw.recv(65536)
            assert chunk, received
            received += chunk
    first, _, second = received.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200") and b"content-length: " in first.lower()
    assert second.startswith(b"HTTP/1.1 200"), second[:80]


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_other_routes_through_the_adapter(both: dict[str, Served], interface: str) -> None:
    served = both[interface]
    status, _, body = served.request("GET", "/numbers")
    assert status == 200 and body == b"0\n1\n2\n3\n4\n"
    payload = bytes(range(256)) * 20
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    connection.putrequest("POST", "/echo?a=1&b=%20x")
    connection.putheader("X-Many", "one")
    connection.putheader("X-Many", "two")
    connection.putheader("Content-Length", str(len(payload)))
    connection.endheaders(payload)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    assert response.status == 200 and response.getheader("X-Echo") == "yes"
    assert text.splitlines() == [
        "POST /echo a=1&b=%20x",
        f"body {len(payload)} {payload[:20]!r}",
        "x-many ['one', 'two']",
        "client 127.0.0.1 http",
    ]
    assert served.request("GET", "/broken")[0] == 500
    assert served.request("GET", "/nowhere")[0] == 404
    assert served.request("DELETE", "/echo")[0] == 405


def test_every_poll_is_logged_soon_and_once(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with log.open("w") as stream, serving(tmp_path / "site", "rsgi") as served:
        setup_access_log(stream)
        try:
            _, headers, _ = served.request("GET", served.feed())
            deadline = time.monotonic() + 2
            while "strength.ics" not in log.read_text():  # no later request needed to see it
                assert time.monotonic() < deadline, "the line stayed in memory"
                time.sleep(0.01)
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
            for _ in range(300):
                connection.request("GET", served.feed(), headers={"If-None-Match": headers["etag"]})
                connection.getresponse().read()
            connection.close()
            served.request("GET", "/echo")
            time.sleep(0.3)
        finally:
            setup_access_log()
    lines = log.read_text().splitlines()
    assert len(lines) == 302 and served.token not in log.read_text()
    assert sum('"GET /feed/<token>/strength.ics HTTP/1.1" 304 0 ' in line for line in lines) == 300
    assert ' 127.0.0.1 "GET /feed/<token>/strength.ics HTTP/1.1" 200 ' in lines[0]
    assert '"GET /echo HTTP/1.1" 200' in lines[-1]


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_the_last_access_lines_are_written_when_the_server_stops(tmp_path: Path, interface: str) -> None:
    log = tmp_path / "access.log"
    flush_s = access_file.FLUSH_S
    access_file.FLUSH_S = 3600  # only the stop can write them
    try:
        with log.open("w") as stream:
            setup_access_log(stream)
            with serving(tmp_path / "site", interface) as served:
                for _ in range(3):
                    assert served.request("GET", served.feed())[0] == 200
                assert served.request("GET", "/echo")[0] == 200
                assert log.read_text() == ""
    finally:
        access_file.FLUSH_S = flush_s
        setup_access_log()
    lines = log.read_text().splitlines()
    assert len(lines) == 4 and sum('strength.ics HTTP/1.1" 200' in line for line in lines) == 3


def test_lines_left_by_a_stopped_loop_go_out_with_a_later_line() -> None:
    log = AccessLogFile()
    stream = log.stream = io.StringIO()

    async def request(number: int) -> None:
        log.line("127.0.0.1", f'"GET /{number} HTTP/1.1"', 200, 0, time.perf_counter())

    asyncio.run(request(1))  # the loop ends before its timer writes the line
    assert stream.getvalue() == ""
    time.sleep(1.1)
    asyncio.run(request(2))
    assert [line.split('"')[1] for line in log.stream.getvalue().splitlines()] == [
        "GET /1 HTTP/1.1",
        "GET /2 HTTP/1.1",
    ]


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_an_application_failing_while_it_streams_does_not_hold_the_connection(
    both: dict[str, Served], interface: str
) -> None:
    """Under ASGI granian cuts the connection; RSGI can only end the stream, at once (not when
    the error's traceback is collected)."""
    served = both[interface]
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as raw:
        raw.sendall(b"GET /halfway HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while not received.endswith(b"\r\n0\r\n\r\n"):
            chunk = raw.recv(65536)  # a hung stream times out here
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"\r\n6\r\nfirst\n\r\n" in received
    assert served.request("GET", "/echo")[0] == 200


def test_no_request_can_add_or_bend_an_access_line(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    forged = "/x%0A2026-01-01%2000:00:00,000%20127.0.0.1%20%22GET%20/forged%20HTTP/1.1%22%20200%200%200.1ms"
    with log.open("w") as stream, serving(tmp_path / "site", "rsgi") as served:
        setup_access_log(stream)
        try:
            for path in (forged, "/a%22b%1b[31m%C3%A9", f"/feed/{served.token}%0A/"):
                assert served.request("GET", path)[0] == 404
            time.sleep(0.3)
        finally:
            setup_access_log()
    lines = log.read_text().splitlines()
    assert len(lines) == 3 and all(line.count('"') == 2 for line in lines)
    assert '"GET /x\\x0A2026-01-01\\x2000:00:00,000\\x20127.0.0.1\\x20\\x22GET' in lines[0]
    assert '"GET /a\\x22b\\x1B[31m\\xC3\\xA9 HTTP/1.1" 404 ' in lines[1]
    assert '"GET /feed/<token>/ HTTP/1.1" 404 ' in lines[2] and served.token not in lines[2]


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_a_stream_stops_when_its_client_goes_away(both: dict[str, Served], interface: str) -> None:
    served = both[interface]
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as raw:
        raw.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(65536).startswith(b"HTTP/1.1 200")
        time.sleep(0.1)
    time.sleep(0.2)
    stopped_at = STREAMED["parts"]
    time.sleep(0.3)
    assert STREAMED["parts"] <= stopped_at + 1
    assert served.request("GET", "/numbers")[2] == b"0\n1\n2\n3\n4\n"
