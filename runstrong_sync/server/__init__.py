"""The feed server: a Starlette application run by granian (see ``run``)."""

from runstrong_sync.server.app import create_app, feed_urls, redact
from runstrong_sync.server.feeds import FeedRegistry

__all__ = ["FeedRegistry", "create_app", "feed_urls", "redact"]
