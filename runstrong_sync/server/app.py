"""The Starlette application: each athlete's feeds at ``/feed/<token>/<name>.ics``.

Other parts of the project add their own routes (``extra_routes``) and find the athlete of a
token with ``app.state.feeds.resolve(token)``.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runstrong_sync import athletes, sources
from runstrong_sync.athletes import DEFAULT_ATHLETE
from runstrong_sync.config import Config, load_config
from runstrong_sync.errors import RunstrongError
from runstrong_sync.feed import FEED_NAMES
from runstrong_sync.publishing import feed_files
from runstrong_sync.server.bridge import ASGIOverRSGI
from runstrong_sync.server.feeds import FeedBody, FeedRegistry, Reply, accepts_gzip
from runstrong_sync.storage.db import Database, open_database
from runstrong_sync.web.loader import week_resolver
from runstrong_sync.web.page import page_routes

if TYPE_CHECKING:
    from granian._granian import RSGIHTTPProtocol as HTTPProtocol
    from granian.rsgi import Scope as RSGIScope

NOT_FOUND = Reply.plain(404, b"Not found\n")
# A real athlete whose feed was not written yet: come back later, keep the calendar.
NOT_WRITTEN = Reply.plain(
    503, b"The feed has not been written yet; run `runstrong-sync sync`.\n", [("retry-after", "3600")]
)
FEED_PATH = re.compile(r"^/(feed|strava/webhook)/[^/]*")
Headers = Callable[[str], str | None]  # a request header's value by its lower-case name


UNPRINTABLE = re.compile(r'[\x00-\x20"\\\x7f-\U0010ffff]')


def _escaped(match: re.Match[str]) -> str:
    return "".join(f"\\x{byte:02X}" for byte in match.group().encode("utf-8", "surrogateescape"))


def redact(path: str) -> str:
    """The path as logs may show it: the secret token (of a feed, of Strava's webhook) replaced,
    and what a decoded path may hold besides printable ASCII (a line break, a quote, a space, a
    terminal's escape) written as ``\\xHH``, so that no request can add or bend a log line."""
    return UNPRINTABLE.sub(_escaped, FEED_PATH.sub(r"/\1/<token>", path))


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope["headers"]}


@functools.lru_cache(maxsize=64)
def _gzip_wanted(header: str) -> bool:
    """accepts_gzip, remembered: calendars send the same few Accept-Encoding values all day."""
    return accepts_gzip(header)


def _etag_matches(header: str, body: FeedBody) -> bool:
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/")  # If-None-Match uses the weak comparison
        if tag in ("*", body.etag, body.etag_gzip):
            return True
    return False


def _not_modified_since(header: str, body: FeedBody) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:  # asctime and "-0000" carry no zone; HTTP dates are always GMT
        since = since.replace(tzinfo=UTC)
    return body.modified_s <= since.timestamp()


async def _plain(
    send: Send, status: int, text: bytes, head: bool, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(text)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else text})


class FeedEndpoint:
    """GET and HEAD of one feed, answered from memory with ETag, Last-Modified, 304 and gzip."""

    def __init__(self, registry: FeedRegistry, name: str) -> None:
        self.registry = registry
        self.name = name
        self._logged: dict[tuple[str, str], str] = {}

    def logged_request(self, method: str, version: str) -> str:
        """The request as the access line shows it, the token left out (made once per method
        and HTTP version)."""
        request = self._logged.get((method, version))
        if request is None:
            request = self._logged[method, version] = (
                f'"{method} /feed/<token>/{self.name}.ics HTTP/{version}"'
            )
        return request

    def reply(self, token: str, header: Headers) -> Reply:
        """The answer to a GET of this feed under ``token``, by the request's headers."""
        feed = self.registry.feed_of(token, self.name)
        if feed is None:
            return NOT_FOUND
        body = feed.current()
        if body is None:
            return NOT_WRITTEN
        accept_encoding = header("accept-encoding")
        gzipped = accept_encoding is not None and _gzip_wanted(accept_encoding)
        if_none_match = header("if-none-match")
        if if_none_match is not None:  # it wins over If-Modified-Since
            fresh = if_none_match in (body.etag, body.etag_gzip) or _etag_matches(if_none_match, body)
        else:
            since = header("if-modified-since")
            fresh = since is not None and _not_modified_since(since, body)
        if gzipped:
            return body.not_modified_gzip if fresh else body.ok_gzip
        return body.not_modified if fresh else body.ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.respond(scope, send)

    async def respond(self, scope: Scope, send: Send) -> tuple[int, int]:
        """Answer the request (ASGI); returns the status and the number of body bytes sent."""
        headers = _headers(scope)

        def header(name: str) -> str | None:
            value = headers.get(name.encode())
            return None if value is None else value.decode("latin-1")

        reply = self.reply(scope["path_params"]["token"], header)
        body = b"" if scope["method"] == "HEAD" else reply.body
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.raw_headers})
        await send({"type": "http.response.body", "body": body})
        return reply.status, len(body)


MILLISECONDS = [f"{ms:03d}" for ms in range(1000)]


class AccessLogFile:
    """Where access lines go (``setup_access_log``), written straight to the stream: through the
    logging module a line costs about 10 µs, a fifth of answering a calendar's poll. In an event
    loop, lines go out together ``FLUSH_S`` after the first of them (a write per line cost about
    4 µs in-process, more than the rest of answering a 304), and whatever is left when the server
    stops (``FeedServer.__rsgi_del__``, ``BackgroundServer.stop``); outside an event loop, each
    line is written at once. Lines older than a second whose loop has gone go out with the next."""

    FLUSH_S = 0.05

    def __init__(self) -> None:
        self.stream: TextIO | None = None
        self._second = -1
        self._stamp = ""
        self._pending: list[str] = []
        self._due = 0.0

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        stream = self.stream
        if lines and stream is not None:
            stream.write("".join(lines))
            stream.flush()

    def write(self, scope: Scope, status: int, sent: int, started: float) -> None:
        if self.stream is None:
            return
        client = scope.get("client")
        request = f'"{scope["method"]} {redact(scope["path"])} HTTP/{scope.get("http_version", "1.1")}"'
        self.line(client[0] if client else "-", request, status, sent, started)

    def line(self, client: str, request: str, status: int, sent: int, started: float) -> None:
        """One line: time, client, ``request`` (quoted, its path without the token), status, bytes
        sent, milliseconds taken since ``started`` (``time.perf_counter``)."""
        if self.stream is None:
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        pending = self._pending
        pending.append(
            f"{self._stamp},{MILLISECONDS[int((now - second) * 1000)]} {client} {request} "
            f"{status} {sent} {(time.perf_counter() - started) * 1000:.1f}ms\n"
        )
        if len(pending) == 1:
            self._due = now + 1.0
            try:
                asyncio.get_running_loop().call_later(self.FLUSH_S, self.flush)
            except RuntimeError:  # no loop: now
                self.flush()
        elif now > self._due:  # the loop that was to write them stopped first
            self.flush()


access_file = AccessLogFile()


def setup_access_log(stream: TextIO | None = None) -> None:
    """Access lines on stderr (or ``stream``); the HTTP server's own access log stays off, since
    it would show the secret token in every feed path."""
    access_file.flush()
    access_file.stream = stream or sys.stderr


class AccessLog:
    """One access line per request, with the token cut out of the path and no query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or access_file.stream is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        sent = 0

        async def logged_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            access_file.write(scope, status, sent, started)


class BodyTooLargeError(Exception):
    pass


class BodyLimit:
    """Caps request bodies (the Strava webhook is the route that reads one): a declared length
    over ``max_bytes`` is answered 413 before a byte is read, and a body that grows past it while
    it streams in ends the request the same way. GET and HEAD bodies are never read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        declared = _headers(scope).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _plain(send, 413, b"Request body too large\n", False, [(b"connection", b"close")])
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError:
            if started:
                raise
            await _plain(send, 413, b"Request body too large\n", False, [(b"connection", b"close")])


class FeedServer(Starlette):
    """The application, with a short way for feed GETs and HEADs: a calendar's poll is the
    request this server answers most (mostly with 304), so it goes straight to its endpoint,
    before Starlette's middleware and router, and writes its own access line.

    granian serves it through RSGI (``__rsgi__``): a poll is answered with one call and
    headers made when the feed was read; every other request goes to the ASGI application
    through ``ASGIOverRSGI``. Under an ASGI server, ``__call__`` takes the same short way."""

    feed_endpoints: Mapping[str, FeedEndpoint] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            parts = scope["path"].split("/")
            if len(parts) == 4 and parts[1] == "feed" and parts[3] in self.feed_endpoints:
                started = time.perf_counter()
                scope["path_params"] = {"token": parts[2]}
                status, sent = await self.feed_endpoints[parts[3]].respond(scope, send)
                access_file.write(scope, status, sent, started)
                return
        await super().__call__(scope, receive, send)

    async def __rsgi__(self, scope: RSGIScope, proto: HTTPProtocol) -> None:
        method = scope.method
        if method == "GET" or method == "HEAD":
            parts = scope.path.split("/")
            if len(parts) == 4 and parts[1] == "feed":
                endpoint = self.feed_endpoints.get(parts[3])
                if endpoint is not None:
                    self._poll(endpoint, parts[2], scope, proto)
                    return
        await self.rsgi_fallback(scope, proto)

    @staticmethod
    def _poll(endpoint: FeedEndpoint, token: str, scope: RSGIScope, proto: HTTPProtocol) -> None:
        started = time.perf_counter()
        reply = endpoint.reply(token, scope.headers.get)
        proto.response_bytes(reply.status, reply.headers, reply.body)  # no body goes out for HEAD
        if access_file.stream is not None:
            method = scope.method
            client = scope.client
            access_file.line(
                client.rpartition(":")[0].strip("[]") or "-",
                endpoint.logged_request(method, scope.http_version),
                reply.status,
                0 if method == "HEAD" else len(reply.body),
                started,
            )

    def __rsgi_del__(self, loop: object) -> None:
        """granian's call when the worker stops: the last access lines are written."""
        access_file.flush()

    @functools.cached_property
    def rsgi_fallback(self) -> ASGIOverRSGI:
        return ASGIOverRSGI(self)


def config_feed_files(config: Config, db: Database) -> Callable[[str], Mapping[str, Path]]:
    """The files the pipeline writes for each athlete, by their own settings."""

    def files_for(athlete: str) -> Mapping[str, Path]:
        if athlete == DEFAULT_ATHLETE:
            return feed_files(config)
        try:
            _, athlete_config = athletes.config_for(db, config, athlete, datetime.now(UTC))
        except RunstrongError:
            return {}  # removed meanwhile
        return feed_files(athlete_config)

    return files_for


def standard_routes(
    config: Config, db: Database, registry: FeedRegistry, clock: Callable[[], datetime] | None = None
) -> list[BaseRoute]:
    """The week page under each athlete's secret path, and each connector's routes (webhooks)."""
    clock = clock or (lambda: datetime.now(config.athlete.zone))
    routes: list[BaseRoute] = list(page_routes(week_resolver(db, config, clock, registry.resolve), clock))
    routes += sources.routes(config, db)
    return routes


def create_app(
    config: Config,
    db: Database,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    check_seconds: float = 1.0,
    files_for: Callable[[str], Mapping[str, Path]] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The server's application. A request looks for new tokens and a changed feed file when the
    last look is ``check_seconds`` old; ``clock`` says what "now" is for the week page (tests pin it)."""
    registry = FeedRegistry(db, files_for or config_feed_files(config, db), check_seconds)

    endpoints = {name: FeedEndpoint(registry, name) for name in FEED_NAMES}
    routes: list[BaseRoute] = [
        Route(f"/feed/{{token}}/{name}.ics", endpoint, methods=["GET", "HEAD"], name=f"feed-{name}")
        for name, endpoint in endpoints.items()
    ]
    routes += standard_routes(config, db, registry, clock)
    routes += list(extra_routes)
    app = FeedServer(routes=routes)
    app.feed_endpoints = {f"{name}.ics": endpoint for name, endpoint in endpoints.items()}
    app.state.feeds = registry
    app.add_middleware(BodyLimit, max_bytes=config.server.max_body_bytes)
    app.add_middleware(AccessLog)  # added last, so it runs first and sees every request
    return app


def feed_urls(base_url: str, token: str, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """The subscribe URLs of each feed: ``http`` (https:// or http://) and ``webcal``."""
    base = base_url.rstrip("/")
    rest = base.partition("://")[2]
    return {
        name: {
            "http": f"{base}/feed/{token}/{name}.ics",
            "webcal": f"webcal://{rest}/feed/{token}/{name}.ics",
        }
        for name in names
    }


def from_environment() -> Starlette:
    """The application for granian (``--interface rsgi --factory``, as `serve` runs it) or any
    ASGI server: the configuration is found as the command line finds it ($RUNSTRONG_CONFIG and
    the rest)."""
    config = load_config()
    setup_access_log()
    return create_app(config, open_database(config.database_url))
