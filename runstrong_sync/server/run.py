"""Running the application under granian, with the access log the application writes itself.

granian (a Rust HTTP stack) answered two to three times as many feed requests per second as
uvicorn with httptools, about 0.8 of what nginx serves from the same file with one worker each,
and as much as nginx with two workers each: see bench/feed_server.py.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from runstrong_sync.config import Config
from runstrong_sync.errors import RunstrongError
from runstrong_sync.server.app import create_app, setup_access_log
from runstrong_sync.storage.db import Database

APP_FACTORY = "runstrong_sync.server.app:from_environment"


def run(host: str, port: int, *, workers: int = 1, config_path: Path | None = None) -> None:
    """Serve until interrupted. Each worker process builds the application from the same
    configuration (``config_path``, else the usual lookup), as ``from_environment`` does."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    if config_path is not None:
        os.environ["RUNSTRONG_CONFIG"] = str(config_path)
    Granian(
        APP_FACTORY,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.auto,  # uvloop where installed
        websockets=False,
        log_access=False,
        log_level="warning",  # type: ignore[arg-type]
    ).serve()


class BackgroundServer:
    """The feed server on a thread of the daemon's process; ``stop()`` ends it."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def start_in_background(config: Config, db: Database) -> BackgroundServer:
    """Serve every athlete's feeds and pages from a thread, for the daemon. uvicorn rather than
    granian here: granian manages its own processes and signals, which belong to the daemon."""
    import uvicorn

    setup_access_log()
    app = create_app(config, db)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=config.server.host, port=config.server.port, log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="feed-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        raise RunstrongError(
            f"The feed server could not listen on {config.server.host}:{config.server.port}.",
            ["Another program may use that port: change server.port in the configuration."],
        )
    return BackgroundServer(server, thread)
