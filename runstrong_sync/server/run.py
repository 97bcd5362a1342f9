"""Running the application under granian, the one HTTP server of the project: `serve` (worker
processes), the daemon and the tests (granian's embedded server on a thread).

granian (a Rust HTTP stack) answered several times as many feed requests as uvicorn with h11,
the other server tried; bench/feed_server.py compares it with nginx serving the same file. Its
limits come from the ``[server]`` section of the configuration: the size of a request head, the
time a client may take to send it, the requests handled at once; the application caps bodies.
"""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runstrong_sync.config import Config, ServerConfig
from runstrong_sync.errors import ConfigError, RunstrongError
from runstrong_sync.server.app import access_file, create_app, setup_access_log
from runstrong_sync.storage.db import Database

APP_FACTORY = "runstrong_sync.server.app:from_environment"
BACKLOG = 1024  # connections the kernel queues while the workers are busy


def check_port_free(host: str, port: int) -> None:
    """Refuse to start on a port another program listens on. granian binds with SO_REUSEPORT,
    so a second server would silently share the port and answer half the polls; this bind has
    no such option and fails while anyone listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # old connections do not count
    try:
        probe.bind((host, port))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise ConfigError(
                f"Port {port} on {host} is already in use"
                f"{' (permission denied)' if exc.errno == errno.EACCES else ''}; "
                "another `runstrong-sync serve` or daemon may be running.",
                ["Stop the other server, or choose another port with --port or server.port."],
            ) from exc
        raise ConfigError(f"The feed server cannot listen on {host}:{port}: {exc.strerror or exc}.") from exc
    finally:
        probe.close()


@dataclass(frozen=True, slots=True)
class Limits:
    """The HTTP server's side of the limits (the body cap is the application's)."""

    header_timeout_ms: int
    max_header_bytes: int
    max_requests: int

    @classmethod
    def of(cls, server: ServerConfig) -> Limits:
        return cls(round(server.header_timeout_s * 1000), server.max_header_bytes, server.max_requests)

    def granian_options(self) -> dict[str, Any]:
        from granian.http import HTTP1Settings

        return {
            "http1_settings": HTTP1Settings(
                header_read_timeout=self.header_timeout_ms, max_buffer_size=self.max_header_bytes
            ),
            "backpressure": self.max_requests,
            "backlog": BACKLOG,
        }


def interface_of(app: Any) -> Any:
    """RSGI for the project's application (its feed polls are answered with one call into
    granian), ASGI for any other application."""
    from granian.constants import Interfaces

    return Interfaces.RSGI if hasattr(app, "__rsgi__") else Interfaces.ASGI


def event_loop() -> Any:
    """uvloop where it is installed (not on Windows): it answers a poll in about two thirds
    of the time asyncio's own loop takes."""
    from granian.constants import Loops

    return Loops.uvloop if importlib.util.find_spec("uvloop") is not None else Loops.asyncio


def run(
    host: str, port: int, *, workers: int = 1, config_path: Path | None = None, limits: Limits | None = None
) -> None:
    """Serve until interrupted. Each worker process builds the application from the same
    configuration (``config_path``, else the usual lookup), as ``from_environment`` does."""
    check_port_free(host, port)
    if config_path is not None:
        os.environ["RUNSTRONG_CONFIG"] = str(config_path)
    serve_factory(APP_FACTORY, host, port, workers=workers, limits=limits)  # builds a FeedServer


def serve_factory(
    factory: str, host: str, port: int, *, workers: int = 1, limits: Limits | None = None
) -> None:
    """Serve the RSGI application ``factory`` (``module:function``) builds in each worker, as
    ``run`` serves the project's (bench/feed_server.py serves a fixed answer the same way)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    Granian(
        factory,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        http=HTTPModes.http1,
        workers=workers,
        loop=event_loop(),
        websockets=False,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
        **(limits or Limits.of(ServerConfig())).granian_options(),
    ).serve()


class BackgroundServer:
    """granian's embedded server on a thread with its own event loop; ``stop()`` ends it."""

    def __init__(self, app: Any, host: str, port: int, limits: Limits) -> None:
        from granian.constants import HTTPModes
        from granian.server.embed import Server

        self.host, self.port = host, port
        self._server = Server(
            app,
            address=host,
            port=port,
            interface=interface_of(app),
            http=HTTPModes.http1,
            websockets=False,
            log_enabled=False,
            **limits.granian_options(),
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="feed-server", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve())
        except BaseException as exc:  # reported by start()
            self.error = exc
        finally:
            self._loop.close()

    def start(self, timeout_s: float = 10) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while self._thread.is_alive() and time.monotonic() < deadline:
            with socket.socket() as probe:
                probe.settimeout(0.5)
                if probe.connect_ex((self.host, self.port)) == 0:
                    return self
            time.sleep(0.02)
        self.stop()
        raise RunstrongError(
            f"The feed server could not listen on {self.host}:{self.port}"
            f"{f': {self.error}' if self.error else ''}.",
            ["Another program may use that port: change server.port in the configuration."],
        )

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._server.stop)
            self._thread.join(timeout=10)
        access_file.flush()  # the lines its loop had not written yet


def serve_in_thread(app: Any, host: str, port: int, limits: Limits | None = None) -> BackgroundServer:
    """Serve ``app`` from a thread of this process until ``stop()`` (the daemon, the tests)."""
    check_port_free(host, port)
    return BackgroundServer(app, host, port, limits or Limits.of(ServerConfig())).start()


def start_in_background(config: Config, db: Database) -> BackgroundServer:
    """Serve every athlete's feeds and pages from a thread, for the daemon."""

    setup_access_log()
    app = create_app(config, db)
    return serve_in_thread(app, config.server.host, config.server.port, Limits.of(config.server))
