"""The feed server refuses a port in use, finds tokens without scanning, polls nothing while idle,
and keeps its limits against oversized requests."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runstrong_sync.errors import ConfigError, ExitStatus
from runstrong_sync.server.run import check_port_free
from tests.test_server_http import Server, free_port, get, start_server, stop

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("limits"))
    yield running
    stop(running)


def test_a_second_serve_on_a_used_port_stops_with_a_message(server: Server) -> None:
    environ = {**os.environ, "RUNSTRONG_CONFIG": str(server.folder / "config.toml")}
    second = subprocess.run(
        [sys.executable, "-m", "runstrong_sync", "serve", "--port", str(server.port)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert second.returncode == int(ExitStatus.CONFIG)
    assert f"Port {server.port} on 127.0.0.1 is already in use" in second.stderr
    assert "webcal://" not in second.stdout  # nothing printed as if it were serving
    for _ in range(20):  # every poll still reaches the one server
        assert get(server, server.path(), If_None_Match="x")[0] == 200


def test_port_check_on_a_listening_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(ConfigError, match="already in use"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again once closed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_and_files_are_looked_at_on_request_only(tmp_path: Path) -> None:
    from runstrong_sync.server.feeds import FeedRegistry
    from runstrong_sync.storage import repo
    from runstrong_sync.storage.db import open_database

    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with db.transaction() as session:
        athlete = repo.ensure_athlete(session, "default", "Runner", NOW)
        token = athlete.feed_token
        athlete_id = athlete.id
    feed = tmp_path / "feed.ics"
    feed.write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    clock = Clock()
    threads = threading.active_count()
    registry = FeedRegistry(db, lambda key: {"strength": feed}, check_seconds=1.0, clock=clock)
    assert threading.active_count() == threads  # no thread polls anything
    assert registry.resolve(token) == "default"
    strength = registry.feed("default", "strength")
    assert strength is not None and strength.current() is not None
    with db.transaction() as session:
        new_token = repo.rotate_feed_token(session, athlete_id)
    feed.write_bytes(b"BEGIN:VCALENDAR\r\nX-NEW:1\r\nEND:VCALENDAR\r\n")
    clock.now += 0.5
    assert registry.resolve(token) == "default"  # within the check interval: as loaded
    assert b"X-NEW" not in strength.current().data  # type: ignore[union-attr]
    clock.now += 0.6
    assert registry.resolve(token) is None  # the rotated token is gone on the next look
    assert registry.resolve(new_token) == "default"
    assert b"X-NEW" in strength.current().data  # type: ignore[union-attr]
    db.dispose()


def _raw(server: Server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_huge_request_head_is_refused(server: Server) -> None:
    request = (
        f"GET {server.path()} HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 70_000}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        answer = _raw(server, request)
    except OSError:  # closed while the head was still coming: refused too
        answer = b""
    assert not answer.startswith(b"HTTP/1.1 200")
    assert get(server, server.path())[0] == 200


def test_a_large_body_is_refused_before_it_is_read(server: Server) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("POST", "/strava/webhook")
    connection.putheader("Content-Length", str(10 * 1024 * 1024))
    connection.putheader("Content-Type", "application/json")
    connection.endheaders()
    connection.send(b"{" * 1024)  # a start; the rest never comes
    response = connection.getresponse()
    assert response.status == 413
    connection.close()
    assert get(server, server.path())[0] == 200


def test_a_streamed_body_is_cut_at_the_limit(tmp_path: Path) -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from runstrong_sync.config import load_config
    from runstrong_sync.server import create_app
    from runstrong_sync.server.run import serve_in_thread
    from runstrong_sync.storage.db import open_database
    from tests.test_server_http import prepare

    received: list[int] = []

    async def echo(request: Request) -> PlainTextResponse:
        body = await request.body()
        received.append(len(body))
        return PlainTextResponse(str(len(body)))

    config = load_config(prepare(tmp_path / "streamed"), environ={})
    db = open_database(config.database_url)
    port = free_port()
    server = serve_in_thread(
        create_app(config, db, [Route("/echo", echo, methods=["POST"])]), "127.0.0.1", port
    )
    try:

        def chunks(size: int) -> Iterator[bytes]:
            for _ in range(size // 4096):
                yield b"x" * 4096

        small = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        small.request("POST", "/echo", body=chunks(32 * 1024), encode_chunked=True)
        assert small.getresponse().read() == b"32768"
        small.close()
        big = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            big.request("POST", "/echo", body=chunks(config.server.max_body_bytes * 4), encode_chunked=True)
            status = big.getresponse().status
        except OSError:  # the server may close before the client has sent everything
            status = 413
        big.close()
        assert status == 413
        assert received == [32 * 1024]  # the endpoint never saw the big one
    finally:
        server.stop()
        db.dispose()
