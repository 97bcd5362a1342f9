"""Who may sync an athlete now: one worker at a time, wherever it runs.

SQLite lives on one machine: the file lock in the data dir (``runstrong_sync.lock``) covers every
athlete. PostgreSQL may be shared by workers on several machines: each athlete has a session-level
advisory lock (``pg_try_advisory_lock``) on a key derived from the athlete's key. A worker that
does not get it skips that athlete; PostgreSQL drops the lock when the worker's connection ends,
even when the process is killed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from runstrong_sync import lock
from runstrong_sync.lock import LockedError
from runstrong_sync.storage.db import Database

NAMESPACE = b"runstrong-sync athlete "
POLL_S = 0.1


def per_athlete(db: Database) -> bool:
    """True when the database itself holds the per-athlete locks (PostgreSQL)."""
    return db.engine.dialect.name == "postgresql"


def advisory_key(athlete_key: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock``, the same on every machine."""
    digest = hashlib.sha256(NAMESPACE + athlete_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def install_lock(db: Database, lock_file: Path, *, wait_s: float = 0.0) -> Iterator[None]:
    """The file lock for a SQLite install; nothing for PostgreSQL (each athlete is locked instead)."""
    if per_athlete(db):
        yield
        return
    with lock.hold(lock_file, wait_s=wait_s):
        yield


@contextmanager
def athlete_lock(db: Database, athlete_key: str, *, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the athlete's advisory lock for the block (PostgreSQL); LockedError when another
    worker holds it after ``wait_s`` seconds. Nothing to do on SQLite."""
    if not per_athlete(db):
        yield
        return
    key = advisory_key(athlete_key)
    with db.engine.connect() as connection:
        deadline = time.monotonic() + wait_s
        while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
            if time.monotonic() >= deadline:
                connection.rollback()
                raise LockedError(
                    f"Another worker is syncing athlete {athlete_key!r} now; this one skips that athlete, "
                    "changing nothing.",
                    ["The other worker's run brings the athlete up to date."],
                )
            time.sleep(POLL_S)
        connection.commit()  # a session-level lock outlives the transaction that took it
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()
