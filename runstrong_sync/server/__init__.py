"""The feed server: a Starlette application run by granian (see ``run``)."""

from runstrong_sync.server.app import create_app, feed_urls, redact
from runstrong_sync.server.feeds import FeedRegistry
from runstrong_sync.server.run import start_in_background

__all__ = ["FeedRegistry", "create_app", "feed_urls", "redact", "start_in_background"]
