"""The one pipeline: ingest -> classify -> plan -> publish. The CLI, cron, the daemon and the
folder watcher all run it through ``sync``; each stage is also callable alone."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from runstrong_sync import classify as classifier
from runstrong_sync import plan as planner
from runstrong_sync.config import WEEKDAYS, Config
from runstrong_sync.domain import Label, StrengthSession, Zones
from runstrong_sync.errors import ExitStatus
from runstrong_sync.feed import FeedSettings, build_feed
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
from runstrong_sync.storage import repo
from runstrong_sync.storage.db import Database
from runstrong_sync.zones import resolve_zones

log = logging.getLogger(__name__)
DEFAULT_ATHLETE = "default"
RELABEL_WINDOW_DAYS = 56  # labels that depend on recent history are refreshed this far back
PLAN_NOTES_KEY = "plan.notes"


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

    @property
    def rejected(self) -> list[tuple[str, str, str | None]]:
        return [r for s in self.sources for r in s.rejected]

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.REJECTED_INPUT if self.rejected else ExitStatus.OK


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
    db: Database, athlete: int, name: str, events: Iterable[SourceEvent], now: datetime
) -> SourceReport:
    """Store each event in its own transaction; then let the connector archive or advance."""
    report = SourceReport(name)
    for event in events:
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


def current_zones(db: Database, athlete: int, config: Config) -> Zones:
    with db.transaction() as session:
        history = [repo.row_to_activity(row) for row in repo.activity_rows(session, athlete)]
    a = config.athlete
    return resolve_zones(
        max_hr=a.max_hr,
        threshold_hr=a.threshold_hr,
        resting_hr=a.resting_hr,
        threshold_speed_mps=a.threshold_speed_mps,
        history=history,
    )


def relabel(db: Database, athlete: int, config: Config, now: datetime, *, everything: bool = False) -> int:
    """Classify from stored numbers only; True relabelling never re-reads files or Strava."""
    zones = current_zones(db, athlete, config)
    changed = 0
    with db.transaction() as session:
        rows = repo.activity_rows(session, athlete)
        history = [
            classifier.RunSummary(r.start_utc.timestamp(), r.moving_s, r.distance_m, r.avg_speed_mps)
            for r in rows
            if r.sport in ("run", "trail_run", "virtual_run", "treadmill_run")
        ]
        recent = now - timedelta(days=RELABEL_WINDOW_DAYS)
        for row in rows:
            if not everything and row.label is not None and row.start_utc < recent:
                continue
            override = Label(row.label_override) if row.label_override else None
            activity = repo.row_to_activity(row)
            earlier = [h for h in history if h.start_utc_s < row.start_utc.timestamp()]
            result = classifier.classify(activity, zones, earlier, override)
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
            runs.append(planner.DayRun(day, label.label, hard=label.counts_as_hard, end=end))
    return runs, strength


def replan(
    db: Database, athlete: int, config: Config, now: datetime
) -> tuple[planner.PlanResult, dict[str, int]]:
    settings = plan_settings(config)
    today = now.astimezone(settings.zone).date()
    since = now - timedelta(weeks=config.planner.history_weeks + 1)
    done, strength_days = day_runs(db, athlete, since)
    expected = planner.predict_runs(done, today, weeks=config.planner.history_weeks)
    runs = planner.merge_runs(done, expected, today)
    with db.transaction() as session:
        previous = repo.load_sessions(session, athlete)
        result = planner.plan(
            now=now, runs=runs, strength_days=strength_days, previous=previous, settings=settings
        )
        counts = repo.save_sessions(session, athlete, result.sessions, config.athlete.time_zone, now)
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
                        "title": r.title,
                    }
                    for r in runs
                ],
            },
            now,
        )
    return result, counts


def feed_settings(config: Config) -> FeedSettings:
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


def stored_sessions(db: Database, athlete: int) -> list[StrengthSession]:
    with db.transaction() as session:
        return repo.load_sessions(session, athlete)


def publish(
    db: Database, athlete: int, config: Config, now: datetime, path: Path | None = None
) -> tuple[Path, bool]:
    target = path or config.feed_path
    today = now.astimezone(config.athlete.zone).date()
    data = build_feed(stored_sessions(db, athlete), feed_settings(config), today)
    return target, write_atomic(target, data)


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
) -> SyncReport:
    """Run every configured connector (or ``sources``), then classify, plan and publish.

    ``options`` reach the connectors (e.g. ``jobs``: worker processes for file imports)."""
    report = SyncReport()
    athlete = athlete_id(db, config, now)
    context = make_context(
        db, athlete, config, now, progress, http_session=http_session, options=dict(options or {})
    )
    names = list(enabled_sources(config) if sources is None else sources)
    for name in names:
        connector = load_connector(name, config)
        report.sources.append(ingest(db, athlete, name, connector.fetch(context), now))
    if import_paths:
        report.sources.append(_import(db, athlete, context, import_paths))
    report.relabelled = relabel(db, athlete, config, now)
    _, report.plan_changes = replan(db, athlete, config, now)
    report.feed_path, report.feed_changed = publish(db, athlete, config, now, feed_path)
    return report
