"""Running the application under uvicorn, with the access log the application writes itself."""

from __future__ import annotations

import logging
import sys

import uvicorn
from starlette.applications import Starlette

ACCESS_FORMAT = "%(asctime)s %(message)s"


def setup_access_log(stream: object = None) -> None:
    """Access lines on stderr (or ``stream``); the server's own access log stays off, since it
    would show the secret token in every feed path."""
    logger = logging.getLogger("runstrong_sync.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
        handler.setFormatter(logging.Formatter(ACCESS_FORMAT))
        logger.addHandler(handler)


def run(app: Starlette, host: str, port: int, *, trusted_proxies: str = "127.0.0.1") -> None:
    """Serve until interrupted. uvicorn with httptools and uvloop: see bench/feed_server.py."""
    setup_access_log()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        loop="auto",  # uvloop where installed
        access_log=False,
        log_config=None,
        log_level="warning",
        proxy_headers=True,
        forwarded_allow_ips=trusted_proxies,
        server_header=False,
    )
    uvicorn.Server(config).run()
