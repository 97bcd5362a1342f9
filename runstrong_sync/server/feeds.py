"""What the server serves, held in memory: each feed file's bytes with their validators, and the
athletes' secret tokens. Nothing runs in the background: a request checks, at most once per
``check_seconds``, whether its feed file changed (one stat) and whether the tokens changed (one
small query), so an idle server costs nothing however many athletes it serves."""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from sqlalchemy import select

from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import Athlete

log = logging.getLogger(__name__)
Clock = Callable[[], float]


CONTENT_TYPE = "text/calendar; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Reply:
    """A response made once and sent many times: its headers as RSGI (str) and ASGI (bytes) want them."""

    status: int
    headers: list[tuple[str, str]]
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes

    @classmethod
    def of(cls, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> Reply:
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return cls(status, headers, raw, body)

    @classmethod
    def plain(cls, status: int, text: bytes, extra: list[tuple[str, str]] | None = None) -> Reply:
        headers = [
            ("content-type", "text/plain; charset=utf-8"),
            ("content-length", str(len(text))),
            ("cache-control", "no-store"),
            *(extra or []),
        ]
        return cls.of(status, headers, text)


def _replies(payload: bytes, etag: str, last_modified: str, gzipped: bool) -> tuple[Reply, Reply]:
    """The 200 and the 304 of one encoding of a feed."""
    common = [
        ("etag", etag),
        ("last-modified", last_modified),
        ("cache-control", "private, no-cache"),
        ("vary", "Accept-Encoding"),
    ]
    full = [
        ("content-type", CONTENT_TYPE),
        ("content-length", str(len(payload))),
        *common,
        ("x-content-type-options", "nosniff"),
    ]
    if gzipped:
        full.append(("content-encoding", "gzip"))
    return Reply.of(200, full, payload), Reply.of(304, common)


@dataclass(frozen=True, slots=True)
class FeedBody:
    """One version of a feed file, ready to send as it is or gzipped: its answers (200 and 304,
    plain and gzipped) are made when the file is read, not per request."""

    data: bytes
    gzipped: bytes
    etag: str  # strong, quoted; the gzipped body has its own
    etag_gzip: str
    last_modified: str  # IMF-fixdate
    modified_s: int  # whole seconds, for If-Modified-Since
    ok: Reply
    ok_gzip: Reply
    not_modified: Reply
    not_modified_gzip: Reply

    @classmethod
    def of(cls, data: bytes, modified_s: int) -> FeedBody:
        digest = hashlib.sha256(data).hexdigest()[:32]
        # mtime=0: the same bytes always compress to the same bytes.
        gzipped = gzip.compress(data, compresslevel=9, mtime=0)
        etag, etag_gzip = f'"{digest}"', f'"{digest}-gz"'
        last_modified = formatdate(modified_s, usegmt=True)
        ok, not_modified = _replies(data, etag, last_modified, gzipped=False)
        ok_gzip, not_modified_gzip = _replies(gzipped, etag_gzip, last_modified, gzipped=True)
        return cls(
            data=data,
            gzipped=gzipped,
            etag=etag,
            etag_gzip=etag_gzip,
            last_modified=last_modified,
            modified_s=modified_s,
            ok=ok,
            ok_gzip=ok_gzip,
            not_modified=not_modified,
            not_modified_gzip=not_modified_gzip,
        )


class FeedFile:
    """A feed file's current body; re-read only when its size, mtime or inode change, and looked
    at no more than once per ``check_seconds`` (the file is replaced by rename when written)."""

    def __init__(self, path: Path, check_seconds: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.path = path
        self.check_seconds = check_seconds
        self._clock = clock
        self._seen: tuple[int, int, int] | None = None
        self._checked = clock()
        self.body: FeedBody | None = None
        self.refresh()

    def current(self) -> FeedBody | None:
        """The body to send now, after a stat when the last look is ``check_seconds`` old."""
        now = self._clock()
        if now - self._checked >= self.check_seconds:
            self._checked = now
            self.refresh()
        return self.body

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

    ``resolve`` looks the SHA-256 digest of the candidate up in a dict: one lookup whatever the
    number of athletes, and its time tells nothing about the tokens (the digest of a guess shares
    no prefix with a token's digest that the guesser could steer). Tokens are re-read from the
    database when a request comes ``check_seconds`` after the last read, so a rotated token
    stops working within that time; feed files are found for an athlete on its first request.
    """

    def __init__(
        self,
        db: Database,
        files_for: Callable[[str], Mapping[str, Path]],
        check_seconds: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._db = db
        self._files_for = files_for
        self.check_seconds = check_seconds
        self._clock = clock
        self._tokens: dict[bytes, str] = {}
        self._settings: dict[str, Any] = {}
        self._feeds: dict[str, dict[str, FeedFile]] = {}
        self._polled: dict[str, dict[str, FeedFile]] = {}  # feed name -> token -> feed
        self._lock = threading.Lock()
        self._loaded = clock()
        self.refresh()

    def resolve(self, token: str) -> str | None:
        """The athlete key of ``token``, or None."""
        self._maybe_reload()
        return self._tokens.get(_digest(token))

    def feed(self, athlete: str, name: str) -> FeedFile | None:
        return self._athlete_feeds(athlete).get(name)

    def feed_of(self, token: str, name: str) -> FeedFile | None:
        """The feed ``name`` of the athlete of ``token``, or None: what a calendar's poll needs.
        A token found once is remembered with its feed until the tokens are read again, so a
        poll looks its token up in a dict of the tokens that were polled; an unknown one goes on
        to ``resolve``. (A str key is compared only after its salted hash matched a known token's,
        which a guesser cannot steer, so the time still tells nothing but what the status says.)"""
        self._maybe_reload()
        polled = self._polled.get(name)
        if polled is None:
            polled = self._polled[name] = {}
        feed = polled.get(token)
        if feed is None:
            athlete = self._tokens.get(_digest(token))
            feed = self._athlete_feeds(athlete).get(name) if athlete is not None else None
            if feed is not None:
                polled[token] = feed
        return feed

    def feed_names(self, athlete: str) -> list[str]:
        return list(self._athlete_feeds(athlete))

    def _athlete_feeds(self, athlete: str) -> dict[str, FeedFile]:
        feeds = self._feeds.get(athlete)
        if feeds is None and athlete in self._settings:
            feeds = {
                name: FeedFile(path, self.check_seconds, self._clock)
                for name, path in self._files_for(athlete).items()
            }
            self._feeds[athlete] = feeds
        return feeds or {}

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._loaded < self.check_seconds or not self._lock.acquire(blocking=False):
            return
        try:
            self._loaded = now
            self._load_tokens()
        except Exception:  # a locked or missing database must not stop the server
            log.exception("reading the feed tokens failed; serving what was loaded before")
        finally:
            self._lock.release()

    def _load_tokens(self) -> None:
        with self._db.transaction() as session:
            rows = session.execute(select(Athlete.key, Athlete.feed_token, Athlete.settings_json)).all()
        settings = {key: settings for key, _, settings in rows}
        # An athlete whose settings changed may write its feeds elsewhere: found again on request.
        self._feeds = {k: v for k, v in self._feeds.items() if self._settings.get(k) == settings.get(k)}
        self._settings = settings
        self._tokens = {_digest(token): key for key, token, _ in rows}
        self._polled = {}

    def refresh(self) -> None:
        """Reload the tokens now, and look at every known feed file now."""
        with self._lock:
            self._loaded = self._clock()
            self._load_tokens()
        for feeds in list(self._feeds.values()):
            for feed in feeds.values():
                feed.refresh()


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
