"""The one pipeline: ingest -> classify -> plan -> publish. The CLI, cron, the daemon and the
folder watcher all run it through ``sync``; each stage is also callable alone."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runstrong_sync import athletes, health, lock
from runstrong_sync import classify as classifier
from runstrong_sync import plan as planner
from runstrong_sync.config import WEEKDAYS, Config
from runstrong_sync.domain import Activity, Label, StrengthSession, Zones
from runstrong_sync.errors import DatabaseError, ExitStatus, RunstrongError
from runstrong_sync.fileio import write_atomic
from runstrong_sync.sources import (
    ConnectorContext,
    Deleted,
    FileConnector,
    Imported,
    Progress,
    Rejected,
    SourceEvent,
    enabled_sources,
    load_connector,
)
from runstrong_sync.storage import repo, runs
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import ActivityRow, Athlete
from runstrong_sync.zones import HISTORY_DAYS, resolve_zones, zones_from_strava

if TYPE_CHECKING:  # feed writing (icalendar) and plan calendars (requests) are imported where used
    from sqlalchemy.orm import Session

    from runstrong_sync.feed import FeedSettings

log = logging.getLogger(__name__)
DEFAULT_ATHLETE = athletes.DEFAULT_ATHLETE
RELABEL_WINDOW_DAYS = 56  # labels that depend on recent history are refreshed this far back
CLASSIFY_LOOKBACK_DAYS = 91  # a label looks back at most 90 days (classify's RunHistory.before)
PLAN_NOTES_KEY = "plan.notes"
UPCOMING_KEY = "plan.upcoming"  # the last good copy of the training plan's events
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


class StopRequestedError(RunstrongError):
    """A stop was asked for (SIGTERM, SIGINT); what was committed stays, the rest waits for next time."""


def worst_status(statuses: Iterable[ExitStatus]) -> ExitStatus:
    found = set(statuses)
    return next((s for s in STATUS_PRIORITY if s in found), ExitStatus.OK)


STRAVA_ZONES_KEY = "strava.zones"  # Strava's GET /athlete/zones answer, stored by `strava auth`
LABEL_BASIS_KEY = "classify.basis"  # zones and classifier version the stored labels were made with


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


def now_for(today: date | None, config: Config, clock: datetime | None = None) -> datetime:
    """The pipeline's "now": the start of a pinned day (reproducible), else the clock."""
    zone = config.athlete.zone
    if today is not None:
        return datetime.combine(today, time(0, 0), tzinfo=zone)
    return (clock or datetime.now(zone)).astimezone(zone)


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
) -> SourceReport:
    """Store each event in its own transaction; then let the connector archive or advance.

    ``should_stop`` is asked between events: a stop never splits a file from its transaction.
    """
    report = SourceReport(name)
    for event in events:
        if should_stop is not None and should_stop():
            raise StopRequestedError(f"Stopped while reading {name}; the next run goes on from here.")
        if isinstance(event, Imported):
            with db.transaction() as session:
                result = repo.upsert_activity(session, athlete, event.activity, now, event.fingerprint)
            if result.outcome is repo.Outcome.CREATED:
                report.created += 1
            elif result.outcome is repo.Outcome.UPDATED:
                report.updated += 1
            else:
                report.duplicates += 1
            if event.after_commit is not None:
                event.after_commit()
        elif isinstance(event, Deleted):
            with db.transaction() as session:
                removed = repo.delete_by_identity(session, athlete, event.source, event.external_id)
            report.deleted += int(removed)
            if event.after_commit is not None:
                event.after_commit()
        elif isinstance(event, Rejected):
            moved_to = event.set_aside(event.reason) if event.set_aside is not None else None
            with db.transaction() as session:
                repo.add_rejection(session, athlete, name, event.source_ref, event.reason, moved_to, now)
            log.warning("rejected %s: %s", event.source_ref, event.reason)
            report.rejected.append((event.source_ref, event.reason, moved_to))
    log.info("%s", report.summary())
    return report


def _import(db: Database, athlete: int, context: ConnectorContext, paths: Sequence[Path]) -> SourceReport:
    connector = load_connector("fit", context.config)
    if not isinstance(connector, FileConnector):
        raise TypeError("the fit connector does not import paths")
    return ingest(db, athlete, "import", connector.import_paths(paths, context), context.now)


def import_paths(
    db: Database,
    athlete: int,
    config: Config,
    paths: Sequence[Path],
    now: datetime,
    progress: Progress | None = None,
    options: Mapping[str, Any] | None = None,
) -> SourceReport:
    """Only the ingest stage, for given files and folders."""
    context = make_context(db, athlete, config, now, progress, options=dict(options or {}))
    return _import(db, athlete, context, paths)


def _zones_for(config: Config, strava: dict[str, Any] | None, history: Sequence[Activity]) -> Zones:
    a = config.athlete
    return resolve_zones(
        max_hr=a.max_hr,
        threshold_hr=a.threshold_hr,
        resting_hr=a.resting_hr,
        threshold_speed_mps=a.threshold_speed_mps,
        strava=zones_from_strava(strava),
        history=history,
    )


def current_zones(db: Database, athlete: int, config: Config) -> Zones:
    """Configuration first, then Strava's athlete zones, then estimates from stored runs."""
    with db.transaction() as session:
        newest = repo.newest_start(session, athlete)
        since = None if newest is None else newest - timedelta(days=HISTORY_DAYS + 1)
        _, history = _window(session, athlete, since)
        strava = repo.get_state(session, athlete, STRAVA_ZONES_KEY)
    return _zones_for(config, strava, history)


def _relabel_since(session: Session, athlete: int, now: datetime) -> datetime | None:
    """The oldest start relabelling reads: the recent runs it relabels and what their labels look
    back on, the runs the zones are estimated from, and the history of any unlabelled activity."""
    newest = repo.newest_start(session, athlete)
    if newest is None:
        return None
    since = min(
        now - timedelta(days=RELABEL_WINDOW_DAYS + CLASSIFY_LOOKBACK_DAYS),
        newest - timedelta(days=HISTORY_DAYS + 1),
    )
    unlabelled = repo.oldest_unlabelled(session, athlete)
    if unlabelled is not None:
        since = min(since, unlabelled - timedelta(days=CLASSIFY_LOOKBACK_DAYS))
    return since


def _window(
    session: Session, athlete: int, since: datetime | None
) -> tuple[Sequence[ActivityRow], list[Activity]]:
    """The stored activities from ``since`` on (all with None), decoded; all of them when the
    newest run is too old for the window to hold the runs the zones are estimated from."""
    rows = repo.activity_rows(session, athlete, since)
    activities = [repo.row_to_activity(row) for row in rows]
    if since is not None:
        runs = [a.start_utc for a in activities if a.is_run and a.derived is not None]
        if not runs or max(runs) - timedelta(days=HISTORY_DAYS + 1) < since:
            return _window(session, athlete, None)
    return rows, activities


def _label_basis(zones: Zones) -> dict[str, Any]:
    """What every label depends on besides the activity: the classifier's version and the zones."""
    values = {
        name: getattr(zones, name).value if getattr(zones, name) is not None else None
        for name in ("max_hr", "threshold_hr", "resting_hr", "threshold_speed_mps")
    }
    sources = {
        name: getattr(zones, name).source.value if getattr(zones, name) is not None else None
        for name in values
    }
    return {"classifier": classifier.CLASSIFIER_VERSION, "zones": values, "sources": sources}


def relabel(db: Database, athlete: int, config: Config, now: datetime, *, everything: bool = False) -> int:
    """Classify from stored numbers only: relabelling never re-reads files or Strava.

    Recent runs are relabelled on every call; all of them when asked, or when the zones or the
    classifier changed since the labels were made.
    """
    changed = 0
    with db.transaction() as session:
        since = None if everything else _relabel_since(session, athlete, now)
        rows, activities = _window(session, athlete, since)
        zones = _zones_for(config, repo.get_state(session, athlete, STRAVA_ZONES_KEY), activities)
        basis = _label_basis(zones)
        if repo.get_state(session, athlete, LABEL_BASIS_KEY) != basis:
            everything = True  # new thresholds or a new classifier: every label may change
            repo.set_state(session, athlete, LABEL_BASIS_KEY, basis, now)
            if since is not None:
                rows, activities = _window(session, athlete, None)
        history = classifier.RunHistory(
            classifier.RunSummary(a.start_utc.timestamp(), a.moving_s, a.distance_m, a.avg_speed_mps)
            for a in activities
            if a.is_run
        )
        recent = now - timedelta(days=RELABEL_WINDOW_DAYS)
        for row, activity in zip(rows, activities, strict=True):
            if not everything and row.label is not None and row.start_utc < recent:
                continue
            override = Label(row.label_override) if row.label_override else None
            result = classifier.classify(activity, zones, history, override)
            changed += int(repo.save_classification(row, result))
    return changed


def plan_settings(config: Config, athlete_key: str = DEFAULT_ATHLETE) -> planner.PlanSettings:
    a, p = config.athlete, config.planner
    return planner.PlanSettings(
        zone=a.zone,
        athlete_key=athlete_key,
        min_sessions=p.min_sessions,
        max_sessions=p.max_sessions,
        min_hours_between=p.min_hours_between,
        gap_after_run_hours=p.gap_after_run_hours,
        hard_days_hard=p.hard_days_hard,
        stable_hours=p.stable_hours,
        available_days=frozenset(WEEKDAYS.index(d) for d in a.strength_days),
        strength_time=a.strength_time,
        experience=a.experience,
        equipment=tuple(a.equipment),
        races=tuple(planner.Race(r.date, r.priority, r.name) for r in p.races),
    )


def day_runs(db: Database, athlete: int, since: datetime) -> tuple[list[planner.DayRun], list[date]]:
    """Runs as the planner sees them (local day, label, end time) and the days with strength work."""
    runs: list[planner.DayRun] = []
    strength: list[date] = []
    with db.transaction() as session:
        for item in repo.labelled_activities(session, athlete, since):
            activity, label = item.activity, item.classification
            day = activity.local_date
            if activity.is_strength:
                strength.append(day)
                continue
            if not activity.is_run:
                continue
            end = (activity.start_local + timedelta(seconds=activity.elapsed_s)).time()
            runs.append(
                planner.DayRun(
                    day, label.label, hard=label.counts_as_hard, end=end, title=activity.name or ""
                )
            )
    return runs, strength


def upcoming_events(
    db: Database, athlete: int, config: Config, now: datetime, http_session: Any = None
) -> list[planner.PlannedEvent]:
    """The training plan's events, or the last good copy when the feed cannot be read now."""
    source = config.planner.upcoming_runs_ics
    if not source:
        return []
    from runstrong_sync import upcoming

    today = now.astimezone(config.athlete.zone).date()
    try:
        events = upcoming.read_upcoming(source, config.athlete.zone, today, http_session=http_session)
    except upcoming.UpcomingRunsError as exc:
        log.warning("%s", exc)
        with db.transaction() as session:
            cached = repo.get_state(session, athlete, UPCOMING_KEY) or {}
        if cached.get("source") != source:
            return []
        return upcoming.events_from_json(cached.get("events", []))
    with db.transaction() as session:
        repo.set_state(
            session, athlete, UPCOMING_KEY, {"source": source, "events": upcoming.events_to_json(events)}, now
        )
    return events


def athlete_key(db: Database, athlete: int) -> str:
    with db.transaction() as session:
        row = session.get(Athlete, athlete)
        return row.key if row is not None else DEFAULT_ATHLETE


def replan(
    db: Database, athlete: int, config: Config, now: datetime, http_session: Any = None
) -> tuple[planner.PlanResult, dict[str, int]]:
    settings = plan_settings(config, athlete_key(db, athlete))  # the key keeps session UIDs apart
    today = now.astimezone(settings.zone).date()
    since = now - timedelta(weeks=config.planner.history_weeks + 1)
    done, strength_days = day_runs(db, athlete, since)
    expected = planner.predict_runs(done, today, weeks=config.planner.history_weeks)
    planned = planner.planned_runs(upcoming_events(db, athlete, config, now, http_session), settings.zone)
    runs = planner.merge_runs(done, expected, today, planned)
    with db.transaction() as session:
        previous = repo.load_sessions(session, athlete, since)  # older sessions stay as they are
        result = planner.plan(
            now=now, runs=runs, strength_days=strength_days, previous=previous, settings=settings
        )
        counts = repo.save_sessions(session, athlete, result.sessions, config.athlete.time_zone, now, since)
        repo.set_state(
            session,
            athlete,
            PLAN_NOTES_KEY,
            {
                "days": {d.isoformat(): note for d, note in sorted(result.notes.items())},
                "weeks": {d.isoformat(): note for d, note in sorted(result.week_notes.items())},
                "runs": [
                    {
                        "day": r.day.isoformat(),
                        "label": r.label.value,
                        "hard": r.hard,
                        "expected": r.expected,
                        "source": r.source,
                        "end": r.end.isoformat(timespec="minutes") if r.end else None,
                        "title": r.title,
                    }
                    for r in runs
                ],
            },
            now,
        )
    return result, counts


def feed_settings(config: Config) -> FeedSettings:
    from runstrong_sync.feed import FeedSettings

    f = config.feed
    return FeedSettings(
        name=f.name,
        time_zone=config.athlete.time_zone,
        refresh_minutes=f.refresh_minutes,
        past_weeks=f.past_weeks,
        future_weeks=f.future_weeks,
        all_day=f.all_day,
        busy=f.busy,
        alarm_minutes=f.alarm_minutes,
    )


def stored_sessions(db: Database, athlete: int, since: datetime | None = None) -> list[StrengthSession]:
    with db.transaction() as session:
        return repo.load_sessions(session, athlete, since)


def feed_files(config: Config, path: Path | None = None) -> dict[str, Path]:
    """The feed files by name (strength, runs, busy); the optional ones sit beside the main one."""
    main = path or config.feed_path
    files = {"strength": main}
    if config.feed.runs_feed:
        files["runs"] = main.with_name(f"{main.stem}-runs{main.suffix or '.ics'}")
    if config.feed.busy_only_feed:
        files["busy"] = main.with_name(f"{main.stem}-busy{main.suffix or '.ics'}")
    return files


def health_events(
    db: Database, athlete: int, config: Config, now: datetime, *, ignore: Sequence[str] = ()
) -> list[Any]:
    """The sync-health event for the feed, when the last sync is too old or Strava needs the runner."""
    watched = {runs.PIPELINE, *enabled_sources(config)}  # not one-off imports, not sources turned off
    with db.transaction() as session:
        facts = [f for f in runs.source_health(session, athlete) if f.source in watched]
    stale_after = timedelta(hours=config.feed.stale_after_hours)
    notice = health.sync_notice(facts, now, stale_after, ignore=ignore)
    if notice is None:
        return []
    today = now.astimezone(config.athlete.zone).date()
    return [health.notice_event(notice, f"sync-health-{athlete}@runstrong-sync", now, today)]


def publish(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    path: Path | None = None,
    *,
    ignore_health_of: Sequence[str] = (),
) -> tuple[Path, bool]:
    """Write every enabled feed atomically; returns the main feed's path and whether it changed."""
    from runstrong_sync.feed import build_busy_feed, build_feed, build_runs_feed

    files = feed_files(config, path)
    today = now.astimezone(config.athlete.zone).date()
    settings = feed_settings(config)
    sessions = stored_sessions(db, athlete, now - timedelta(weeks=config.feed.past_weeks, days=2))
    extra = health_events(db, athlete, config, now, ignore=ignore_health_of)
    try:
        changed = write_atomic(files["strength"], build_feed(sessions, settings, today, extra))
        if "busy" in files:
            write_atomic(files["busy"], build_busy_feed(sessions, settings, today))
        if "runs" in files:
            since = now - timedelta(weeks=config.feed.past_weeks + 1)
            with db.transaction() as session:
                labelled = repo.labelled_activities(session, athlete, since)
            write_atomic(files["runs"], build_runs_feed(labelled, settings, today))
    except OSError as exc:
        raise RunstrongError(
            f"The feed {files['strength']} could not be written: {exc.strerror or exc}. "
            "The previous feed is still there, unchanged.",
            ["Free some space on that disk (or fix its permissions), then run `runstrong-sync sync` again."],
        ) from exc
    return files["strength"], changed


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
    options: dict[str, Any] | None = None,
    athlete: str = DEFAULT_ATHLETE,
    should_stop: ShouldStop | None = None,
    lock_wait_s: float = 0.0,
) -> SyncReport:
    """Run every configured connector (or ``sources``), then classify, plan and publish.

    Holds the single-instance lock; ``athlete`` picks whose sources, settings and feed.
    """
    with lock.hold(config.resolved_data_dir / LOCK_FILE, wait_s=lock_wait_s):
        return sync_athlete(
            config,
            db,
            now=now,
            sources=sources,
            import_paths=import_paths,
            feed_path=feed_path,
            progress=progress,
            http_session=http_session,
            athlete=athlete,
            should_stop=should_stop,
            options=options,
        )


def sync_all(
    config: Config,
    db: Database,
    *,
    now: datetime,
    sources: Sequence[str] | None = None,
    http_session: Any = None,
    should_stop: ShouldStop | None = None,
    lock_wait_s: float = 0.0,
    options: dict[str, Any] | None = None,
) -> list[SyncReport]:
    """Sync every athlete in turn under one lock; one athlete's failure does not stop the others."""
    reports = []
    with lock.hold(config.resolved_data_dir / LOCK_FILE, wait_s=lock_wait_s):
        for key in athletes.keys(db, config, now):
            try:
                reports.append(
                    sync_athlete(
                        config,
                        db,
                        now=now,
                        sources=sources,
                        http_session=http_session,
                        athlete=key,
                        should_stop=should_stop,
                        options=options,
                    )
                )
            except (DatabaseError, StopRequestedError):
                raise
            except RunstrongError as exc:
                failed = SyncReport(athlete=key)
                failed.errors.append(("sync", exc))
                reports.append(failed)
    return reports


def sync_athlete(
    config: Config,
    db: Database,
    *,
    now: datetime,
    sources: Sequence[str] | None = None,
    import_paths: Sequence[Path] = (),
    feed_path: Path | None = None,
    progress: Progress | None = None,
    http_session: Any = None,
    athlete: str = DEFAULT_ATHLETE,
    should_stop: ShouldStop | None = None,
    options: dict[str, Any] | None = None,
) -> SyncReport:
    """One athlete's sync, without the lock (the caller holds it). Every source and the whole run
    are recorded in sync_runs; a source that fails (Strava offline, needs re-authorization, rate
    limit) is reported and the others, the plan and the feed still go ahead."""
    report = SyncReport(athlete=athlete)
    athlete_row, config = athletes.config_for(db, config, athlete, now)
    with db.transaction() as session:
        runs.close_abandoned(session, athlete_row, now)
        pipeline_run = runs.start(session, athlete_row, runs.PIPELINE, now)
    try:
        context = make_context(
            db, athlete_row, config, now, progress, http_session=http_session, options=options or {}
        )
        names = list(enabled_sources(config) if sources is None else sources)
        for name in names:
            connector = load_connector(name, config)
            report.sources.append(
                _run_source(
                    db, athlete_row, name, partial(connector.fetch, context), now, should_stop, report
                )
            )
        if import_paths:
            connector = load_connector("fit", config)
            if not isinstance(connector, FileConnector):
                raise TypeError("the fit connector does not import paths")
            paths = list(import_paths)
            report.sources.append(
                _run_source(
                    db,
                    athlete_row,
                    "import",
                    partial(connector.import_paths, paths, context),
                    now,
                    should_stop,
                    report,
                )
            )
        report.relabelled = relabel(db, athlete_row, config, now)
        _, report.plan_changes = replan(db, athlete_row, config, now, http_session)
        report.feed_path, report.feed_changed = publish(
            db, athlete_row, config, now, feed_path, ignore_health_of=(runs.PIPELINE,)
        )
    except BaseException as exc:
        outcome = "interrupted" if isinstance(exc, StopRequestedError | KeyboardInterrupt) else "failed"
        _finish_run(db, pipeline_run, outcome, now, {"message": str(exc)})
        raise
    outcome = "ok" if report.exit_status in (ExitStatus.OK, ExitStatus.REJECTED_INPUT) else "partial"
    _finish_run(db, pipeline_run, outcome, now, {"exit_status": int(report.exit_status)})
    return report


def _finish_run(db: Database, run_id: int, outcome: str, now: datetime, summary: dict[str, Any]) -> None:
    try:
        with db.transaction() as session:
            runs.finish(session, run_id, outcome, now, summary)
    except DatabaseError:
        log.warning("could not record the end of sync run %s", run_id)


OUTCOMES = {ExitStatus.REAUTHORIZE: "reauthorize", ExitStatus.RATE_LIMITED: "rate_limited"}


def _run_source(
    db: Database,
    athlete: int,
    name: str,
    events: Callable[[], Iterable[SourceEvent]],
    now: datetime,
    should_stop: ShouldStop | None,
    report: SyncReport,
) -> SourceReport:
    with db.transaction() as session:
        run_id = runs.start(session, athlete, name, now)
    try:
        result = ingest(db, athlete, name, events(), now, should_stop)
    except (DatabaseError, StopRequestedError) as exc:
        _finish_run(db, run_id, "interrupted" if isinstance(exc, StopRequestedError) else "failed", now, {})
        raise
    except RunstrongError as exc:
        outcome = OUTCOMES.get(exc.exit_status, "failed")
        _finish_run(db, run_id, outcome, now, {"message": str(exc), "exit_status": int(exc.exit_status)})
        log.warning("%s: %s", name, exc)
        report.errors.append((name, exc))
        return SourceReport(name)
    except BaseException as exc:
        _finish_run(db, run_id, "failed", now, {"message": f"{type(exc).__name__}: {exc}"})
        raise
    summary = {
        "created": result.created,
        "updated": result.updated,
        "duplicates": result.duplicates,
        "deleted": result.deleted,
        "rejected": len(result.rejected),
    }
    _finish_run(db, run_id, "rejected" if result.rejected else "ok", now, summary)
    return result
