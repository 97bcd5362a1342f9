"""The ceiling of the feed server's stack, for bench/feed_server.py: granian serving, through
RSGI with the same options, loop and workers as `runstrong-sync serve`, an application that does
nothing but send a fixed answer: the same 200, gzipped 200 and 304 (headers and bytes) the
server makes of the feed file, chosen by the path alone (``/feed/<token>/full.ics``, ``gzip.ics``,
``304.ics``), with no lookup of token, feed or header and no access line.

    python bench/feed_ceiling.py FEED_FILE TOKEN HOST PORT WORKERS
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from runstrong_sync.server.feeds import FeedBody, Reply
from runstrong_sync.server.run import serve_factory

FEED_ENV = "RUNSTRONG_CEILING_FEED"
TOKEN_ENV = "RUNSTRONG_CEILING_TOKEN"


class FixedAnswers:
    """One prebuilt answer per path."""

    def __init__(self, answers: dict[str, Reply]) -> None:
        self.answers = answers

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        reply = self.answers[scope.path]
        proto.response_bytes(reply.status, reply.headers, reply.body)

    async def __call__(self, scope: Any, proto: Any) -> None:
        await self.__rsgi__(scope, proto)


def answers(feed: Path, token: str) -> dict[str, Reply]:
    body = FeedBody.of(feed.read_bytes(), int(feed.stat().st_mtime))
    return {
        f"/feed/{token}/full.ics": body.ok,
        f"/feed/{token}/gzip.ics": body.ok_gzip,
        f"/feed/{token}/304.ics": body.not_modified,
    }


def from_environment() -> FixedAnswers:
    return FixedAnswers(answers(Path(os.environ[FEED_ENV]), os.environ[TOKEN_ENV]))


def main() -> None:
    feed, token, host, port, workers = sys.argv[1:6]
    os.environ[FEED_ENV], os.environ[TOKEN_ENV] = feed, token
    serve_factory("feed_ceiling:from_environment", host, int(port), workers=int(workers))


if __name__ == "__main__":
    main()
