"""Single-instance locks: a second sync (cron, the daemon, the watcher) waits or stops at once.

An advisory ``flock`` on a file in the data dir. The kernel drops it when the process dies, even by
kill -9, so a crash never leaves a stale lock behind. Two opens in one process conflict as well,
so threads of the daemon are serialised too.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runstrong_sync.errors import LockedError

__all__ = ["DAEMON_LOCK", "SYNC_LOCK", "LockedError", "hold"]

SYNC_LOCK = "sync.lock"
DAEMON_LOCK = "daemon.lock"
POLL_S = 0.1


def _holder(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


@contextmanager
def hold(path: Path, *, wait_s: float = 0.0, what: str = "sync") -> Iterator[None]:
    """Hold the lock at ``path`` for the block; wait up to ``wait_s`` seconds, else LockedError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(
                        f"Another {what} is still running{_holder(path)}; this run stops, changing nothing.",
                        [f"The lock is {path}; it is released when that run ends (even if it crashes)."],
                    ) from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
