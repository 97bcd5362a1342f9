"""Watching the inbox: files are imported through the one pipeline as soon as they are complete.

The folders come from the connectors (``WatchTarget``, runstrong_sync.sources). A file counts as
complete when its writer has closed it (Linux reports that) and it has not changed for the
target's settle time (``sources.fit.settle_seconds``); the connector itself also skips files touched more
recently than that, so a copy in progress is never half-read, with or without this watcher.
Whatever arrived while the watcher was down is imported at start.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from watchdog.events import (
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from runstrong_sync import pipeline
from runstrong_sync.config import Config
from runstrong_sync.errors import ConfigError
from runstrong_sync.sources import WatchTarget, watch_targets
from runstrong_sync.storage.db import Database

log = logging.getLogger(__name__)
POLL_S = 0.25
LOCK_WAIT_S = 120.0  # a cron sync may hold the lock; wait for it rather than fail


class Arrivals:
    """What the file-system events say: whether to look again, and which files are still open."""

    def __init__(self, settle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._busy: set[Path] = set()
        self._last_event: float | None = None

    def touched(self, path: Path, *, writing: bool | None) -> None:
        """Something happened to ``path``; ``writing`` None: whether it is open is unchanged."""
        with self._lock:
            if writing:
                self._busy.add(path)
            elif writing is not None:
                self._busy.discard(path)
            self._last_event = self.clock()

    def gone(self, path: Path) -> None:
        with self._lock:
            self._busy.discard(path)

    def look_again_in(self, seconds: float) -> None:
        with self._lock:
            self._last_event = self.clock() - self.settle_seconds + seconds

    def due(self) -> bool:
        """True once, when events have been quiet for the settle time."""
        with self._lock:
            if self._last_event is None or self.clock() - self._last_event < self.settle_seconds:
                return False
            self._last_event = None
            return True

    def busy(self) -> frozenset[Path]:
        with self._lock:
            return frozenset(self._busy)


class _Handler(FileSystemEventHandler):
    def __init__(self, arrivals: Arrivals, track_open: bool) -> None:
        self.arrivals = arrivals
        self.track_open = track_open

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or isinstance(event, (FileOpenedEvent, FileClosedNoWriteEvent)):
            return
        path = Path(_text(event.src_path))
        if event.event_type == "deleted":
            self.arrivals.gone(path)
        elif event.event_type == "moved":
            self.arrivals.gone(path)
            self.arrivals.touched(Path(_text(event.dest_path)), writing=False)  # renamed into place
        elif isinstance(event, FileClosedEvent):
            self.arrivals.touched(path, writing=False)
        elif isinstance(event, FileAttribEvent):  # chmod or touch after a copy: no new content
            self.arrivals.touched(path, writing=None)
        else:  # created or modified: being written until it is closed
            self.arrivals.touched(path, writing=self.track_open)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", errors="surrogateescape") if isinstance(value, bytes) else value


def watch_inbox(
    config: Config,
    db: Database,
    stop: threading.Event,
    *,
    now: Callable[[], datetime] | None = None,
    on_report: Callable[[pipeline.SyncReport], None] | None = None,
    ready: threading.Event | None = None,
    request_sync: Callable[[str], None] | None = None,
) -> None:
    """Import from every watch target (the connectors' folders) now and whenever files arrive,
    until ``stop`` is set.

    With ``request_sync`` (the daemon) the watcher only asks for a sync, and the daemon's main
    loop runs it: one writer per process."""
    targets = targets_to_watch(config)
    arrivals = Arrivals(max(t.settle_seconds for t in targets))
    # Only inotify reports that a writer closed its file; elsewhere the settle time alone decides.
    observer = Observer()
    handler = _Handler(arrivals, track_open=sys.platform.startswith("linux"))
    for target in targets:
        observer.schedule(handler, str(target.folder))
    observer.start()
    clock = now or (lambda: datetime.now(config.athlete.zone))
    try:
        if ready is not None:
            ready.set()
        if request_sync is not None:
            request_sync("files")  # what arrived while we were down
        else:
            _run(config, db, clock(), arrivals, targets, on_report)
        while not stop.wait(POLL_S):
            if not arrivals.due():
                continue
            if request_sync is not None:
                arrivals.look_again_in(3600.0)  # quiet until the next file event
                request_sync("files")
            else:
                _run(config, db, clock(), arrivals, targets, on_report)
    finally:
        observer.stop()
        observer.join()


def targets_to_watch(config: Config) -> list[WatchTarget]:
    """The enabled connectors' folders, or a ConfigError that says what to set."""
    targets = watch_targets(config)
    if not targets:
        raise ConfigError(
            "There is no inbox to watch.",
            ["Set sources.fit.inbox (and sources.fit.enabled = true) in the configuration."],
        )
    return targets


def _run(
    config: Config,
    db: Database,
    now: datetime,
    arrivals: Arrivals,
    targets: list[WatchTarget],
    on_report: Callable[[pipeline.SyncReport], None] | None,
) -> None:
    busy = arrivals.busy()
    names = list(dict.fromkeys(t.source for t in targets))
    try:
        report = pipeline.sync(
            config, db, now=now, sources=names, options={"busy": busy}, lock_wait_s=LOCK_WAIT_S
        )
    except Exception:  # a failed run must not end the watch; the files stay for the next one
        log.exception(
            "importing from %s failed; trying again shortly", ", ".join(str(t.folder) for t in targets)
        )
        arrivals.look_again_in(max(arrivals.settle_seconds, 5.0))
        return
    if on_report is not None:
        on_report(report)
    for source in report.sources:
        if source.created or source.updated or source.rejected:
            log.info("%s", source.summary())
    # Files skipped as too fresh get another look once they have had time to settle.
    if any(target.waiting(busy) for target in targets):
        arrivals.look_again_in(arrivals.settle_seconds)


def files_waiting(config: Config) -> list[tuple[Path, float]]:
    """Files in the watched folders not read yet because they changed within their settle time,
    with their age in seconds."""
    now = time.time()
    out = []
    for target in watch_targets(config):
        for path in target.waiting(frozenset()):
            try:
                out.append((path, max(0.0, now - path.lstat().st_mtime)))
            except OSError:
                continue
    return out


class BackgroundWatcher:
    """The inbox watcher on a thread of the daemon's process; ``stop()`` ends it."""

    def __init__(self, stop: threading.Event, thread: threading.Thread) -> None:
        self._stop = stop
        self._thread = thread

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def start_in_background(
    config: Config, db: Database, request_sync: Callable[[str], None]
) -> BackgroundWatcher:
    """For the daemon: watch the inbox and ask for a sync when files have settled."""
    targets_to_watch(config)  # a missing inbox is a configuration error at start, not in a thread
    stop = threading.Event()
    ready = threading.Event()
    thread = threading.Thread(
        target=watch_inbox,
        args=(config, db, stop),
        kwargs={"ready": ready, "request_sync": request_sync},
        name="inbox-watcher",
        daemon=True,
    )
    thread.start()
    ready.wait(timeout=10)
    return BackgroundWatcher(stop, thread)
