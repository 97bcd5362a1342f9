"""What the server serves, held in memory: each feed file's bytes with their validators, and the
athletes' secret tokens. Both are refreshed in the background, so a request only reads memory."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from sqlalchemy import select

from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import Athlete

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FeedBody:
    """One version of a feed file, ready to send as it is or gzipped."""

    data: bytes
    gzipped: bytes
    etag: bytes  # strong, quoted; the gzipped body has its own
    etag_gzip: bytes
    last_modified: bytes  # IMF-fixdate
    modified_s: int  # whole seconds, for If-Modified-Since

    @classmethod
    def of(cls, data: bytes, modified_s: int) -> FeedBody:
        digest = hashlib.sha256(data).hexdigest()[:32]
        # mtime=0: the same bytes always compress to the same bytes.
        gzipped = gzip.compress(data, compresslevel=9, mtime=0)
        return cls(
            data=data,
            gzipped=gzipped,
            etag=f'"{digest}"'.encode(),
            etag_gzip=f'"{digest}-gz"'.encode(),
            last_modified=formatdate(modified_s, usegmt=True).encode(),
            modified_s=modified_s,
        )


class FeedFile:
    """A feed file's current body; re-read only when its size, mtime or inode change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self.body: FeedBody | None = None
        self.refresh()

    def refresh(self) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False  # keep serving the last good version, if any
        seen = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if seen == self._seen:
            return False
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            log.warning("cannot read the feed %s: %s", self.path, exc)
            return False
        # The file is replaced by rename, so what was read belongs to this stat (or a newer one,
        # which the next check reads again).
        self._seen = seen
        if self.body is None or self.body.data != data:
            self.body = FeedBody.of(data, int(stat.st_mtime))
            log.info("loaded %s (%d bytes)", self.path.name, len(data))
            return True
        return False


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class FeedRegistry:
    """Tokens to athletes, and athletes to their feed files.

    ``resolve`` compares the candidate with every token with ``hmac.compare_digest`` on SHA-256
    digests and never stops early, so its time depends neither on how much of a token matches
    nor on which athlete it belongs to.
    """

    def __init__(
        self,
        db: Database,
        files_for: Callable[[str], Mapping[str, Path]],
        refresh_seconds: float = 1.0,
    ) -> None:
        self._db = db
        self._files_for = files_for
        self.refresh_seconds = refresh_seconds
        self._tokens: tuple[tuple[bytes, str], ...] = ()
        self._feeds: dict[str, dict[str, FeedFile]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh()

    def resolve(self, token: str) -> str | None:
        """The athlete key of ``token``, or None."""
        candidate = _digest(token)
        found: str | None = None
        for digest, athlete in self._tokens:
            if hmac.compare_digest(candidate, digest):
                found = athlete
        return found

    def feed(self, athlete: str, name: str) -> FeedFile | None:
        return self._feeds.get(athlete, {}).get(name)

    def feed_names(self, athlete: str) -> list[str]:
        return list(self._feeds.get(athlete, {}))

    def refresh(self) -> None:
        """Reload the tokens from the database and re-read changed feed files."""
        with self._lock:
            with self._db.transaction() as session:
                athletes = [
                    (a.key, a.feed_token) for a in session.scalars(select(Athlete).order_by(Athlete.id))
                ]
            self._tokens = tuple((_digest(token), key) for key, token in athletes)
            feeds: dict[str, dict[str, FeedFile]] = {}
            for key, _ in athletes:
                known = self._feeds.get(key, {})
                feeds[key] = {}
                for name, path in self._files_for(key).items():
                    current = known.get(name)
                    if current is None or current.path != path:
                        current = FeedFile(path)
                    else:
                        current.refresh()
                    feeds[key][name] = current
            self._feeds = feeds

    def start(self) -> None:
        """Refresh every ``refresh_seconds`` in a daemon thread until ``stop``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="feed-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            started = time.monotonic()
            try:
                self.refresh()
            except Exception:  # a locked or missing database must not stop the server
                log.exception("refreshing the feeds failed; serving what was loaded before")
            log.debug("refresh took %.1f ms", (time.monotonic() - started) * 1000)


def accepts_gzip(header: str) -> bool:
    """True when Accept-Encoding allows gzip (q > 0), directly or through ``*``."""
    allowed: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        allowed[name.strip().lower()] = q
    if "gzip" in allowed:
        return allowed["gzip"] > 0
    if "x-gzip" in allowed:
        return allowed["x-gzip"] > 0
    return allowed.get("*", 0.0) > 0
