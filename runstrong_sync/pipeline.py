"""The one pipeline: ingest -> classify -> plan -> publish. The CLI, cron, the daemon and the
folder watcher all run it through ``sync``. Ingest lives here; the other stages are callable alone
from their own modules: ``labelling.relabel``, ``planning.replan``, ``publishing.publish``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from runstrong_sync import athletes, labelling, lock, planning, publishing
from runstrong_sync.config import Config
from runstrong_sync.core.domain import SyncOutcome
from runstrong_sync.errors import (
    DatabaseError,
    ExitStatus,
    LockedError,
    RunstrongError,
    StopRequestedError,
)
from runstrong_sync.sources import (
    ConnectorContext,
    Deleted,
    FileConnector,
    Imported,
    Progress,
    Rejected,
    SourceEvent,
    StateChange,
    enabled_sources,
    load_connector,
)
from runstrong_sync.storage import deletions, locks, repo, runs, tombstones
from runstrong_sync.storage.db import BATCH_UNITS, Batch, Database

log = logging.getLogger(__name__)
DEFAULT_ATHLETE = athletes.DEFAULT_ATHLETE
LOCK_FILE = lock.SYNC_LOCK
# When several things go wrong, the exit status names the one the user must act on first.
STATUS_PRIORITY = (
    ExitStatus.DATABASE,
    ExitStatus.CONFIG,
    ExitStatus.REAUTHORIZE,
    ExitStatus.FAILED,
    ExitStatus.RATE_LIMITED,
    ExitStatus.REJECTED_INPUT,
    ExitStatus.OK,
)
ShouldStop = Callable[[], bool]


def worst_status(statuses: Iterable[ExitStatus]) -> ExitStatus:
    found = set(statuses)
    return next((s for s in STATUS_PRIORITY if s in found), ExitStatus.OK)


@dataclass
class SourceReport:
    name: str
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    deleted: int = 0
    rejected: list[tuple[str, str, str | None]] = field(default_factory=list)  # ref, reason, moved to

    def summary(self) -> str:
        return (
            f"{self.name}: {self.created} new, {self.updated} updated, {self.duplicates} already known, "
            f"{self.deleted} deleted, {len(self.rejected)} rejected"
        )


@dataclass
class SyncReport:
    sources: list[SourceReport] = field(default_factory=list)
    relabelled: int = 0
    plan_changes: dict[str, int] = field(default_factory=dict)
    feed_path: Path | None = None
    feed_changed: bool = False
    athlete: str = DEFAULT_ATHLETE
    errors: list[tuple[str, RunstrongError]] = field(default_factory=list)  # source, what went wrong

    @property
    def rejected(self) -> list[tuple[str, str, str | None]]:
        return [r for s in self.sources for r in s.rejected]

    @property
    def exit_status(self) -> ExitStatus:
        statuses = [error.exit_status for _, error in self.errors]
        if self.rejected:
            statuses.append(ExitStatus.REJECTED_INPUT)
        return worst_status(statuses)


now_for = athletes.now_for  # kept beside the athlete's zone: commands find "now" without the pipeline


def athlete_id(db: Database, config: Config, now: datetime, key: str = DEFAULT_ATHLETE) -> int:
    with db.transaction() as session:
        return repo.ensure_athlete(session, key, config.athlete.name, now).id


def make_context(
    db: Database, athlete: int, config: Config, now: datetime, progress: Progress | None = None, **extra: Any
) -> ConnectorContext:
    def load_state(key: str) -> dict[str, Any] | None:
        with db.transaction() as session:
            return repo.get_state(session, athlete, key)

    def save_state(key: str, value: dict[str, Any]) -> None:
        with db.transaction() as session:
            repo.set_state(session, athlete, key, value, now)

    def update_state(key: str, change: StateChange) -> dict[str, Any] | None:
        with db.transaction() as session:
            return repo.update_state_locked(session, athlete, key, change, now)

    if locks.per_athlete(db):  # several workers may share the database (SQLite: one, under the file lock)
        extra.setdefault("update_state", update_state)
    context = ConnectorContext(config=config, now=now, load_state=load_state, save_state=save_state, **extra)
    if progress is not None:
        context.progress = progress
    return context


def ingest(
    db: Database,
    athlete: int,
    name: str,
    events: Iterable[SourceEvent],
    now: datetime,
    should_stop: ShouldStop | None = None,
    *,
    batched: bool = False,
) -> SourceReport:
    """Store each event whole (an activity, a deletion, a rejection); then let the connector
    archive or advance, once it is committed.

    ``batched`` (files read here, which come quickly): the events are stored in one transaction,
    each in a savepoint, committed every few dozen files or half a second (db.Batch); otherwise each
    in its own transaction. A rejection is committed at once, as its file is already set aside.
    ``should_stop`` is asked between events: a stop never splits a file from its transaction.
    """
    report = SourceReport(name)
    with db.transaction() as session:
        any_deleted = deletions.any_deleted(session, athlete)
    with db.batch(size=BATCH_UNITS if batched else 1) as batch:
        for event in events:
            if should_stop is not None and should_stop():
                raise StopRequestedError(f"Stopped while reading {name}; the next run goes on from here.")
            if isinstance(event, Imported):
                result = _store(
                    batch, athlete, event, now, any_deleted=any_deleted, explicit=name == "import"
                )
                if result.outcome is repo.Outcome.CREATED:
                    report.created += 1
                elif result.outcome is repo.Outcome.UPDATED:
                    report.updated += 1
                else:
                    report.duplicates += 1
                batch.then(event.after_commit)
            elif isinstance(event, Deleted):
                with batch.unit() as session:
                    if event.tombstone:
                        removed = tombstones.hide(session, athlete, event.source, event.external_id, now)
                    else:
                        removed = repo.delete_by_identity(session, athlete, event.source, event.external_id)
                report.deleted += int(removed)
                batch.then(event.after_commit)
            elif isinstance(event, Rejected):
                moved_to = event.set_aside(event.reason) if event.set_aside is not None else None
                with batch.unit() as session:
                    repo.add_rejection(session, athlete, name, event.source_ref, event.reason, moved_to, now)
                batch.then(None)
                batch.commit()
                # Not logged here: every caller (CLI, watcher, daemon) shows the rejection once.
                report.rejected.append((event.source_ref, event.reason, moved_to))
    log.info("%s", report.summary())
    return report


def _deleted_by_runner(session: Any, athlete: int, event: Imported, *, explicit: bool) -> bool:
    """An activity the runner deleted stays deleted, unless its file is imported by name again."""
    if not deletions.was_deleted(session, athlete, event.activity, event.fingerprint):
        return False
    if explicit:
        deletions.forget_deletion(session, athlete, event.activity, event.fingerprint)
        return False
    log.info("skipped %s: deleted by you (import it by name to bring it back)", event.activity.source_ref)
    return True


def _store(
    batch: Batch, athlete: int, event: Imported, now: datetime, *, any_deleted: bool, explicit: bool
) -> repo.UpsertResult:
    """Upsert as one unit of work. Another worker storing the same activity at the same moment
    makes the unique identity refuse one insert: that unit is rolled back and tried again, and
    then finds the activity the other worker stored."""
    try:
        return _upsert(batch, athlete, event, now, any_deleted=any_deleted, explicit=explicit)
    except IntegrityError:
        log.info("%s was stored by another worker meanwhile", event.activity.source_ref)
    return _upsert(batch, athlete, event, now, any_deleted=any_deleted, explicit=explicit)


def _upsert(
    batch: Batch, athlete: int, event: Imported, now: datetime, *, any_deleted: bool, explicit: bool
) -> repo.UpsertResult:
    with batch.unit() as session:
        if any_deleted and _deleted_by_runner(session, athlete, event, explicit=explicit):
            return repo.UpsertResult(0, repo.Outcome.DUPLICATE)
        return repo.upsert_activity(session, athlete, event.activity, now, event.fingerprint)


FILE_CONNECTOR = "fit"  # the connector that reads files and folders given by path (`import`)


def file_events(context: ConnectorContext, paths: Sequence[Path]) -> Iterator[SourceEvent]:
    """The one way files given by path come in: the file connector's ``import_paths``."""
    connector = load_connector(FILE_CONNECTOR, context.config)
    if not isinstance(connector, FileConnector):
        raise TypeError(f"the {FILE_CONNECTOR} connector does not import paths")
    return connector.import_paths(list(paths), context)


def import_paths(
    db: Database,
    athlete_id: int,
    config: Config,
    paths: Sequence[Path],
    now: datetime,
    progress: Progress | None = None,
    options: Mapping[str, Any] | None = None,
) -> SourceReport:
    """Only the ingest stage, for given files and folders."""
    context = make_context(db, athlete_id, config, now, progress, options=dict(options or {}))
    return ingest(db, athlete_id, "import", file_events(context, paths), now, batched=True)


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """What one sync does, besides for whom: built once by ``sync``/``sync_all`` and passed down.

    ``now`` is the run's one clock reading; ``sources`` None means every enabled connector;
    ``import_paths`` are files or folders read by the file connector after the sources.
    """

    now: datetime
    sources: tuple[str, ...] | None = None
    import_paths: tuple[Path, ...] = ()
    feed_path: Path | None = None
    progress: Progress | None = None
    http_session: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)
    should_stop: ShouldStop | None = None


def sync(
    config: Config,
    db: Database,
    *,
    now: datetime,
    sources: Sequence[str] | None = None,
    import_paths: Sequence[Path] = (),
    feed_path: Path | None = None,
    progress: Progress | None = None,
    http_session: Any = None,
    options: Mapping[str, Any] | None = None,
    athlete: str = DEFAULT_ATHLETE,
    should_stop: ShouldStop | None = None,
    lock_wait_s: float = 0.0,
) -> SyncReport:
    """Run every configured connector (or ``sources``), then classify, plan and publish.

    Holds the single-instance lock; ``athlete`` picks whose sources, settings and feed.
    """
    request = SyncRequest(
        now=now,
        sources=None if sources is None else tuple(sources),
        import_paths=tuple(import_paths),
        feed_path=feed_path,
        progress=progress,
        http_session=http_session,
        options=dict(options or {}),
        should_stop=should_stop,
    )
    with (
        locks.install_lock(db, config.resolved_data_dir / LOCK_FILE, wait_s=lock_wait_s),
        locks.athlete_lock(db, athlete, wait_s=lock_wait_s),
    ):
        return sync_athlete(config, db, request, athlete_key=athlete)


def sync_all(
    config: Config,
    db: Database,
    *,
    now: datetime,
    sources: Sequence[str] | None = None,
    http_session: Any = None,
    should_stop: ShouldStop | None = None,
    lock_wait_s: float = 0.0,
    options: Mapping[str, Any] | None = None,
) -> list[SyncReport]:
    """Sync every athlete in turn under one lock; one athlete's failure does not stop the others."""
    request = SyncRequest(
        now=now,
        sources=None if sources is None else tuple(sources),
        http_session=http_session,
        options=dict(options or {}),
        should_stop=should_stop,
    )
    reports = []
    with locks.install_lock(db, config.resolved_data_dir / LOCK_FILE, wait_s=lock_wait_s):
        for key in athletes.keys(db, config, now):
            try:
                with locks.athlete_lock(db, key):
                    reports.append(sync_athlete(config, db, request, athlete_key=key))
            except LockedError as exc:
                log.info("%s", exc)  # another worker has this athlete: not a problem to report
            except (DatabaseError, StopRequestedError):
                raise
            except RunstrongError as exc:
                failed = SyncReport(athlete=key)
                failed.errors.append(("sync", exc))
                reports.append(failed)
    return reports


def sync_athlete(
    config: Config, db: Database, request: SyncRequest, *, athlete_key: str = DEFAULT_ATHLETE
) -> SyncReport:
    """One athlete's sync, without the lock (the caller holds it). Every source and the whole run
    are recorded in sync_runs; a source that fails (Strava offline, needs re-authorization, rate
    limit) is reported and the others, the plan and the feed still go ahead."""
    now = request.now
    report = SyncReport(athlete=athlete_key)
    file_config = config
    athlete_id, config = athletes.config_for(db, config, athlete_key, now)
    today = now.astimezone(config.athlete.zone).date()  # once per run; every stage gets this day
    with db.transaction() as session:
        runs.close_abandoned(session, athlete_id, now)
        pipeline_run = runs.start(session, athlete_id, runs.PIPELINE, now)
    try:
        context, names = _ingest_all(db, athlete_id, config, request, report)
        with db.transaction() as session:
            tombstones.purge(session, athlete_id, now)
        athletes.warn_zone_mismatch_once(db, athlete_id, file_config, now)  # with what just arrived
        report.relabelled = labelling.relabel(db, athlete_id, config, now)
        _, report.plan_changes = planning.replan(
            db, athlete_id, config, now, request.http_session, today=today
        )
        publish_plan(db, athlete_id, config, context, names, report)
        report.feed_path, report.feed_changed = publishing.publish(
            db, athlete_id, config, now, request.feed_path, ignore_health_of=(runs.PIPELINE,), today=today
        )
    except BaseException as exc:
        stopped = isinstance(exc, StopRequestedError | KeyboardInterrupt)
        outcome = SyncOutcome.INTERRUPTED if stopped else SyncOutcome.FAILED
        _finish_run(db, pipeline_run, outcome, now, {"message": str(exc)})
        raise
    published = report.exit_status in (ExitStatus.OK, ExitStatus.REJECTED_INPUT)
    outcome = SyncOutcome.OK if published else SyncOutcome.PARTIAL
    _finish_run(db, pipeline_run, outcome, now, {"exit_status": int(report.exit_status)})
    return report


def publish_plan(
    db: Database,
    athlete: int,
    config: Config,
    context: ConnectorContext,
    names: Sequence[str],
    report: SyncReport,
) -> None:
    """Connectors that take the plan (Garmin Connect's workouts for the watch) get the stored sessions."""
    failed = {name for name, _ in report.errors}
    for name in names:
        connector = load_connector(name, config)
        publish = getattr(connector, "publish_plan", None)
        if publish is None or name in failed:
            continue
        try:
            summary = publish(context, publishing.stored_sessions(db, athlete), db, athlete)
        except (DatabaseError, StopRequestedError):
            raise
        except RunstrongError as exc:
            log.warning("%s workouts: %s", name, exc)
            report.errors.append((f"{name} workouts", exc))
            continue
        if summary:
            log.info("%s", summary)


def _ingest_all(
    db: Database, athlete_id: int, config: Config, request: SyncRequest, report: SyncReport
) -> tuple[ConnectorContext, list[str]]:
    """Every requested source, then the files given by path; each recorded as its own run."""
    context = make_context(
        db,
        athlete_id,
        config,
        request.now,
        request.progress,
        http_session=request.http_session,
        options=dict(request.options),
    )
    names = enabled_sources(config) if request.sources is None else list(request.sources)
    for name in names:
        connector = load_connector(name, config)
        events = partial(connector.fetch, context)
        batched = isinstance(connector, FileConnector)  # files read here: they come quickly
        report.sources.append(_run_source(db, athlete_id, name, events, request, report, batched=batched))
    if request.import_paths:
        events = partial(file_events, context, request.import_paths)
        report.sources.append(_run_source(db, athlete_id, "import", events, request, report, batched=True))
    return context, names


def _finish_run(
    db: Database, run_id: int, outcome: SyncOutcome, now: datetime, summary: dict[str, Any]
) -> None:
    try:
        with db.transaction() as session:
            runs.finish(session, run_id, outcome, now, summary)
    except DatabaseError:
        log.warning("could not record the end of sync run %s", run_id)


OUTCOMES = {
    ExitStatus.REAUTHORIZE: SyncOutcome.REAUTHORIZE,
    ExitStatus.RATE_LIMITED: SyncOutcome.RATE_LIMITED,
}


def _run_source(
    db: Database,
    athlete_id: int,
    name: str,
    events: Callable[[], Iterable[SourceEvent]],
    request: SyncRequest,
    report: SyncReport,
    *,
    batched: bool = False,
) -> SourceReport:
    now = request.now
    with db.transaction() as session:
        run_id = runs.start(session, athlete_id, name, now)
    try:
        result = ingest(db, athlete_id, name, events(), now, request.should_stop, batched=batched)
    except (DatabaseError, StopRequestedError) as exc:
        stopped = isinstance(exc, StopRequestedError)
        _finish_run(db, run_id, SyncOutcome.INTERRUPTED if stopped else SyncOutcome.FAILED, now, {})
        raise
    except RunstrongError as exc:
        outcome = OUTCOMES.get(exc.exit_status, SyncOutcome.FAILED)
        _finish_run(db, run_id, outcome, now, {"message": str(exc), "exit_status": int(exc.exit_status)})
        # Not logged here: every caller (CLI, daemon) shows the error once.
        report.errors.append((name, exc))
        return SourceReport(name)
    except BaseException as exc:
        _finish_run(db, run_id, SyncOutcome.FAILED, now, {"message": f"{type(exc).__name__}: {exc}"})
        raise
    summary = {
        "created": result.created,
        "updated": result.updated,
        "duplicates": result.duplicates,
        "deleted": result.deleted,
        "rejected": len(result.rejected),
    }
    _finish_run(db, run_id, SyncOutcome.REJECTED if result.rejected else SyncOutcome.OK, now, summary)
    return result
