"""`runstrong-sync daemon`: the nightly sync, optional polling, the folder watcher and the feed
server in one process.

One thread syncs: the main one. The scheduler (the `schedule` package) and the watcher only ask for
a sync; the main loop runs it, so there is one writer and the lock is never fought over inside the
process. SIGTERM and SIGINT set a flag that the pipeline checks between files: the file in hand is
committed, then the daemon stops; the next start goes on from there.

The scheduler runs on the athlete's local wall clock, read through the injected ``clock`` (the seam
is ``ClockedScheduler``, a subclass using `schedule`'s public API only): 03:30 is
03:30 in the configured time zone across DST changes. A clock that jumps forward runs the missed
sync once; one that jumps back does not run it twice, nor wait days for the next.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

import schedule

from runstrong_sync import lock, pipeline
from runstrong_sync.config import Config
from runstrong_sync.errors import ExitStatus, RunstrongError, StopRequestedError
from runstrong_sync.sources import watch_targets
from runstrong_sync.storage import runs
from runstrong_sync.storage.db import Database

log = logging.getLogger(__name__)
Clock = Callable[[], dt.datetime]
MAX_SLEEP_S = 30.0  # wake at least this often, to notice clock jumps and stop requests
CLOCK_SLACK = dt.timedelta(minutes=5)
CATCH_UP_AFTER = dt.timedelta(hours=24)  # a start after a longer pause syncs at once


class Service(Protocol):
    """Something running beside the scheduler (the feed server, the folder watcher)."""

    def stop(self) -> None: ...


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start_feed_server(config: Config, db: Database) -> Service | None:
    """Start the feed server in a background thread, when the server module is installed.

    ``runstrong_sync.server.start_in_background(config, db) -> Service`` serves the feeds
    (every athlete's, by token) until ``stop()``.
    """
    return _start_optional("runstrong_sync.server", "feed server", config, db)


def start_watcher(config: Config, db: Database, request_sync: Callable[[str], None]) -> Service | None:
    """Watch the connectors' folders (the FIT inbox), when the watcher module is installed; new
    files ask for a sync.

    ``runstrong_sync.watch.start_in_background(config, db, request_sync) -> Service`` calls
    ``request_sync("files")`` when files settle, and never syncs itself (one writer per process).
    """
    if not watch_targets(config):
        log.info("no inbox configured; running without the folder watcher")
        return None
    return _start_optional("runstrong_sync.watch", "folder watcher", config, db, request_sync)


def _start_optional(module_name: str, what: str, *args: Any) -> Service | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        log.info("%s not installed; running without it", what)
        return None
    start = getattr(module, "start_in_background", None)
    if start is None:
        log.info("%s has no start_in_background(); running without it", what)
        return None
    service: Service = start(*args)
    log.info("%s started", what)
    return service


class ClockedJob(schedule.Job):
    """A `schedule` job that is due by the injected clock (naive local wall time).

    The seam: `schedule` reads ``datetime.datetime.now()`` itself and offers no clock, so this
    subclass answers the two public questions the scheduler asks a job, ``should_run`` and ``run()``,
    from ``clock`` and sets the public ``next_run`` itself, by ``following``. Everything else
    (``every().day.at(...)``, ``do``, ``tag``, ``run_pending``, ``next_run``, ``clear``) is the
    library's public API, unchanged. Only what the daemon schedules is supported: every N days at a
    time, every N minutes or hours.
    """

    def __init__(self, interval: int, scheduler: ClockedScheduler, clock: Callable[[], dt.datetime]) -> None:
        super().__init__(interval, scheduler)
        self.clock = clock

    def following(self, now: dt.datetime) -> dt.datetime:
        """When the job is due next, after ``now``."""
        if self.unit == "days" and self.at_time is not None:
            due = dt.datetime.combine(now.date(), self.at_time)
            while due <= now:
                due += dt.timedelta(days=self.interval)
            return due
        if self.unit in ("minutes", "hours") and self.at_time is None:
            return now + dt.timedelta(**{self.unit: self.interval})
        raise schedule.ScheduleValueError(f"the daemon does not schedule {self.unit} jobs")

    @property
    def should_run(self) -> bool:
        return self.next_run is not None and self.clock() >= self.next_run

    def do(self, job_func: Callable[..., Any], *args: Any, **kwargs: Any) -> ClockedJob:
        super().do(job_func, *args, **kwargs)
        self.next_run = self.following(self.clock())
        return self

    def run(self) -> Any:
        if self.job_func is None:
            raise schedule.ScheduleError("the job has nothing to run")
        result = self.job_func()
        self.last_run = self.clock()
        self.next_run = self.following(self.last_run)
        return result


class ClockedScheduler(schedule.Scheduler):
    """A `schedule.Scheduler` whose jobs and ``idle_seconds`` follow ``clock``."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        super().__init__()
        self.clock = clock

    def every(self, interval: int = 1) -> ClockedJob:
        return ClockedJob(interval, self, self.clock)

    @property
    def idle_seconds(self) -> float | None:
        due = self.next_run
        return None if due is None else (due - self.clock()).total_seconds()


@dataclass
class Daemon:
    config: Config
    db: Database
    clock: Clock = system_clock
    lock_wait_s: float = 300.0
    catch_up: bool = True
    scheduler: ClockedScheduler = field(init=False)
    reports: list[list[pipeline.SyncReport]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _requested: list[str] = field(default_factory=list)
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.scheduler = ClockedScheduler(self.local_now)

    # --- the clock -----------------------------------------------------------------------------
    def local_now(self) -> dt.datetime:
        """Naive wall time in the athlete's zone: what the scheduler compares against."""
        return self.clock().astimezone(self.config.athlete.zone).replace(tzinfo=None)

    # --- requests --------------------------------------------------------------------------------
    def request_sync(self, reason: str) -> None:
        """Thread-safe: the scheduler, the watcher or a start-up catch-up asks; the main loop runs."""
        with self._mutex:
            self._requested.append(reason)
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- scheduling ------------------------------------------------------------------------------
    def plan_jobs(self) -> None:
        self.scheduler.clear()
        at = self.config.daemon.sync_time.strftime("%H:%M:%S")
        self.scheduler.every().day.at(at).do(self.request_sync, "nightly").tag("nightly")
        if self.config.daemon.poll_minutes:
            self.scheduler.every(self.config.daemon.poll_minutes).minutes.do(self.request_sync, "poll").tag(
                "poll"
            )
        if self.catch_up and self._last_sync_too_old():
            self.request_sync("catch-up")

    def _last_sync_too_old(self) -> bool:
        now = self.clock()
        try:
            athlete = pipeline.athlete_id(self.db, self.config, now)
            with self.db.transaction() as session:
                health = {h.source: h for h in runs.source_health(session, athlete)}
        except RunstrongError as exc:
            log.warning("could not read the last sync: %s", exc)
            return True
        last = health.get(runs.PIPELINE)
        return last is None or last.last_success is None or now - last.last_success > CATCH_UP_AFTER

    def _fix_clock_jumps(self, now: dt.datetime) -> None:
        """A clock set back leaves next runs far ahead: bring them back to one period from now."""
        for job in self.scheduler.jobs:
            if job.next_run is None or not isinstance(job, ClockedJob):
                continue
            period = dt.timedelta(**{str(job.unit): job.interval})
            if job.next_run - now > period + CLOCK_SLACK:
                log.warning("the clock went back; rescheduling %s", ", ".join(sorted(map(str, job.tags))))
                job.next_run = job.following(now)

    def tick(self) -> None:
        """One step: fire due jobs, then run a requested sync (in this thread)."""
        self._fix_clock_jumps(self.local_now())
        self.scheduler.run_pending()
        with self._mutex:
            reasons, self._requested = self._requested, []
        self._wake.clear()
        if reasons and not self.stopping:
            self.run_sync(", ".join(dict.fromkeys(reasons)))

    def seconds_to_next_job(self) -> float:
        idle = self.scheduler.idle_seconds
        return MAX_SLEEP_S if idle is None else max(0.0, min(idle, MAX_SLEEP_S))

    def run_sync(self, reason: str) -> ExitStatus:
        log.info("sync (%s) starting", reason)
        try:
            reports = pipeline.sync_all(
                self.config,
                self.db,
                now=pipeline.now_for(None, self.config, self.clock()),
                should_stop=lambda: self.stopping,
                lock_wait_s=self.lock_wait_s,
            )
        except StopRequestedError as exc:
            log.warning("%s", exc)
            return ExitStatus.OK
        except RunstrongError as exc:
            log.error("sync (%s) failed: %s", reason, exc)
            return exc.exit_status
        except Exception:
            log.exception("sync (%s) failed unexpectedly; the daemon goes on", reason)
            return ExitStatus.FAILED
        self.reports.append(reports)
        for report in reports:
            for source, error in report.errors:
                log.error("%s %s: %s", report.athlete, source, error)
            for ref, why, _ in report.rejected:
                log.warning("%s rejected %s: %s", report.athlete, ref, why)
        status = pipeline.worst_status(r.exit_status for r in reports)
        log.info("sync (%s) finished with exit status %d", reason, int(status))
        return status

    # --- the process -----------------------------------------------------------------------------
    def run_forever(self, *, install_signals: bool = True) -> None:
        with lock.hold(self.config.resolved_data_dir / lock.DAEMON_LOCK, what="daemon"):
            previous = self._install_signals() if install_signals else {}
            services: list[Service] = []
            try:
                for service in (
                    start_feed_server(self.config, self.db),
                    start_watcher(self.config, self.db, self.request_sync),
                ):
                    if service is not None:
                        services.append(service)
                self.plan_jobs()
                log.info("daemon running; next sync at %s (local)", self.scheduler.next_run)
                while not self.stopping:
                    self.tick()
                    if self.stopping:
                        break
                    self._wake.wait(self.seconds_to_next_job())
            finally:
                for service in reversed(services):
                    try:
                        service.stop()
                    except Exception:
                        log.exception("stopping %s failed", service)
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
                log.info("daemon stopped")

    def _install_signals(self) -> dict[int, Any]:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.warning("%s received: finishing the current file, then stopping", signal.Signals(signum).name)
            self.stop()

        return {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
