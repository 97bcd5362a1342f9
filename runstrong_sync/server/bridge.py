"""An ASGI application answered through granian's RSGI interface.

The server speaks RSGI so that a calendar's poll costs one call into the HTTP stack
(``FeedServer.__rsgi__``); every other request (the week page, webhooks, routes other parts add)
goes to the Starlette application and its middleware unchanged, through this adapter: the RSGI
scope becomes an ASGI scope, ``receive`` reads the body chunk by chunk only when the application
asks for it (so a body cap answers before reading), and ``send`` turns the ASGI messages into one
RSGI response, or a stream when the application sends its body in parts.

An application that fails answers 500 when it had not started its answer (Starlette's error
middleware, else granian). One that fails while it streams a body has its stream ended at once:
RSGI cannot cut a connection, so the client sees a short body ended as if complete (under ASGI,
granian closes the connection instead); the project's own routes send their bodies whole.

Limits of the adapter: no lifespan events (the application has none) and no websockets (the
server runs without them); a request header whose value is not plain text is not passed on
(granian leaves it out of the RSGI headers); the path comes decoded, so ``raw_path`` is made
from it again (an encoded ``/`` in the path reads as ``/`` in both).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Scope

if TYPE_CHECKING:
    from granian._granian import RSGIHTTPProtocol as HTTPProtocol
    from granian.rsgi import Scope as RSGIScope

# 2.4: a send to a client that went away raises OSError, so Starlette streams without a second
# task waiting for the disconnect (a task group whose cancellation granian's Rust tasks never end).
ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}


def _address(text: str) -> tuple[str, int] | None:
    """``"host:port"`` (``"[::1]:port"`` for IPv6) as the ASGI pair."""
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def asgi_scope(scope: RSGIScope) -> Scope:
    """The ASGI HTTP scope of an RSGI request."""
    path = scope.path
    return {
        "type": "http",
        "asgi": ASGI_VERSION,
        "http_version": scope.http_version,
        "server": _address(scope.server),
        "client": _address(scope.client),
        "scheme": scope.scheme,
        "method": scope.method,
        "root_path": "",
        "path": path,
        "raw_path": quote(path, safe="/:@!$&'()*+,;=-._~").encode("ascii"),
        "query_string": scope.query_string.encode("latin-1"),
        "headers": [(name.encode("latin-1"), _header_bytes(value)) for name, value in scope.headers.items()],
    }


class Exchange:
    """``receive`` and ``send`` of one request, over its RSGI protocol object."""

    def __init__(self, proto: HTTPProtocol) -> None:
        self.proto = proto
        self._chunks: AsyncIterator[bytes] | None = None
        self._body_read = False
        self._status = 500
        self._headers: list[tuple[str, str]] = []
        self._started = False
        self._stream: Any = None
        self.finished = False

    async def receive(self) -> Message:
        if self._body_read:
            await self.proto.client_disconnect()
            return {"type": "http.disconnect"}
        if self._chunks is None:
            self._chunks = aiter(self.proto)
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self._body_read = True
            return {"type": "http.request", "body": b"", "more_body": False}
        except Exception:  # the client went away while sending
            self._body_read = True
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("the response was started twice")
            self._started = True
            self._status = message["status"]
            headers = message.get("headers", ())
            self._headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]
        elif kind == "http.response.body":
            await self._body(message.get("body", b""), message.get("more_body", False))

    async def _body(self, body: bytes, more: bool) -> None:
        if not self._started or self.finished:
            raise RuntimeError("a response body was sent without its start, or after its end")
        if self._stream is None:
            if not more:
                self.finished = True
                self.proto.response_bytes(self._status, self._headers, body)
                return
            self._stream = self.proto.response_stream(self._status, self._headers)
        if body:
            try:
                await self._stream.send_bytes(body)
            except RuntimeError as err:  # granian's RSGIProtocolClosed: the client went away
                raise OSError("the client closed the connection") from err
        self.finished = not more

    def end(self) -> None:
        """After the application returned: a response it started but did not end is sent as it is."""
        if self._started and not self.finished and self._stream is None:
            self.finished = True
            self.proto.response_bytes(self._status, self._headers, b"")

    def abandon(self) -> None:
        """After the application failed: its stream, if any, is let go, which ends it now (the
        error's traceback would hold it, and the connection with it, until a garbage collection)."""
        self._stream = None
        self.finished = True


class ASGIOverRSGI:
    """Serves ``app`` (ASGI) to an RSGI server, one request at a time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: RSGIScope, proto: HTTPProtocol) -> None:
        answer = self.answer(asgi_scope(scope), Exchange(proto))
        if _in_asyncio_task():
            await answer
        else:  # granian's Rust tasks: anyio (Starlette's streaming, its task groups) needs a task
            await asyncio.get_running_loop().create_task(answer)

    async def answer(self, scope: Scope, exchange: Exchange) -> None:
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientDisconnect:  # nobody is left to answer, nothing went wrong here
            exchange.abandon()
            return
        except BaseException:
            exchange.abandon()
            raise
        exchange.end()


def _in_asyncio_task() -> bool:
    """Whether the request runs as an asyncio task; under granian's ``--task-impl rust`` it runs
    as a coroutine its scheduler steps, and ``asyncio.current_task()`` fails."""
    try:
        return asyncio.current_task() is not None
    except RuntimeError:
        return False
