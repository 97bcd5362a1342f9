"""The one pipeline: ingest -> classify -> plan -> publish. The CLI, cron, the daemon and the
folder watcher all run it through ``sync``; each stage is also callable alone."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from runstrong_sync import athletes, health, lock
from runstrong_sync.config import WEEKDAYS, Config
from runstrong_sync.core import classify as classifier
from runstrong_sync.core import plan as planner
from runstrong_sync.core.domain import Activity, Label, StrengthSession, SyncOutcome, Zones
from runstrong_sync.core.zones import (
    HISTORY_DAYS,
    ConfiguredPeriod,
    ZoneTimeline,
    resolve_zones,
    zones_from_strava,
)
from runstrong_sync.errors import (
    DatabaseError,
    ExitStatus,
    LockedError,
    RunstrongError,
    StopRequestedError,
    UpcomingRunsError,
)
from runstrong_sync.fileio import write_atomic
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
from runstrong_sync.storage import deletions, feedstate, locks, planstate, repo, runs, tombstones
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import ActivityRow, Athlete

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


def local_day(config: Config, now: datetime) -> date:
    """The athlete's calendar day at ``now``; a run computes it once and hands it to every stage."""
    return now.astimezone(config.athlete.zone).date()


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
) -> SourceReport:
    """Store each event in its own transaction; then let the connector archive or advance.

    ``should_stop`` is asked between events: a stop never splits a file from its transaction.
    """
    report = SourceReport(name)
    with db.transaction() as session:
        any_deleted = deletions.any_deleted(session, athlete)
    for event in events:
        if should_stop is not None and should_stop():
            raise StopRequestedError(f"Stopped while reading {name}; the next run goes on from here.")
        if isinstance(event, Imported):
            result = _store(db, athlete, event, now, any_deleted=any_deleted, explicit=name == "import")
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
                if event.tombstone:
                    removed = tombstones.hide(session, athlete, event.source, event.external_id, now)
                else:
                    removed = repo.delete_by_identity(session, athlete, event.source, event.external_id)
            report.deleted += int(removed)
            if event.after_commit is not None:
                event.after_commit()
        elif isinstance(event, Rejected):
            moved_to = event.set_aside(event.reason) if event.set_aside is not None else None
            with db.transaction() as session:
                repo.add_rejection(session, athlete, name, event.source_ref, event.reason, moved_to, now)
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
    db: Database, athlete: int, event: Imported, now: datetime, *, any_deleted: bool, explicit: bool
) -> repo.UpsertResult:
    """Upsert in its own transaction. Another worker storing the same activity at the same moment
    makes the unique identity refuse one insert: that transaction is rolled back and tried again,
    and then finds the activity the other worker stored."""
    try:
        return _upsert(db, athlete, event, now, any_deleted=any_deleted, explicit=explicit)
    except IntegrityError:
        log.info("%s was stored by another worker meanwhile", event.activity.source_ref)
    return _upsert(db, athlete, event, now, any_deleted=any_deleted, explicit=explicit)


def _upsert(
    db: Database, athlete: int, event: Imported, now: datetime, *, any_deleted: bool, explicit: bool
) -> repo.UpsertResult:
    with db.transaction() as session:
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
    return ingest(db, athlete_id, "import", file_events(context, paths), now)


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


def zone_timeline(config: Config, strava: dict[str, Any] | None, history: Sequence[Activity]) -> ZoneTimeline:
    """The thresholds in force on each date: configured values, Strava's, estimates per month."""
    a = config.athlete
    periods: list[ConfiguredPeriod] = []
    since = None
    for e in sorted(a.earlier, key=lambda e: e.until):  # each held up to its `until`
        periods.append(ConfiguredPeriod(since, e.max_hr, e.threshold_hr, e.resting_hr, e.threshold_speed_mps))
        since = e.until
    periods.append(ConfiguredPeriod(since, a.max_hr, a.threshold_hr, a.resting_hr, a.threshold_speed_mps))
    return ZoneTimeline(periods, zones_from_strava(strava), history)


def zones_history(db: Database, athlete: int, config: Config) -> list[tuple[date, Zones]]:
    with db.transaction() as session:
        history = [repo.row_to_activity(row) for row in repo.activity_rows(session, athlete)]
        strava = repo.get_state(session, athlete, STRAVA_ZONES_KEY)
    return zone_timeline(config, strava, history).history()


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
        strava = repo.get_state(session, athlete, STRAVA_ZONES_KEY)
        zones = _zones_for(config, strava, activities)
        basis = _label_basis(zones)
        if config.athlete.earlier:  # dated thresholds: a change there relabels the runs it covers
            basis["earlier"] = [e.model_dump(mode="json") for e in config.athlete.earlier]
        if repo.get_state(session, athlete, LABEL_BASIS_KEY) != basis:
            everything = True  # new thresholds or a new classifier: every label may change
            repo.set_state(session, athlete, LABEL_BASIS_KEY, basis, now)
            if since is not None:
                rows, activities = _window(session, athlete, None)
        timeline = zone_timeline(config, strava, activities)  # each run judged by its date's thresholds
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
            result = classifier.classify(activity, timeline.at(activity.start_utc), history, override)
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
        hard_day_right_after=p.hard_day_right_after,
        light_day_before=p.light_day_before,
        stable_hours=p.stable_hours,
        available_days=frozenset(WEEKDAYS.index(d) for d in a.strength_days),
        strength_time=a.strength_time,
        latest_start=p.latest_start if isinstance(p.latest_start, time) else planner.LATEST_START,
        experience=a.experience,
        equipment=tuple(a.equipment),
        races=tuple(
            planner.Race(r.date, r.priority, r.name, r.distance_km and r.distance_km * 1000) for r in p.races
        ),
    )


RACE_REASONS = frozenset({"workout_type_race", "race_effort", "race_effort_pace"})


def day_runs(db: Database, athlete: int, since: datetime) -> tuple[list[planner.DayRun], list[date]]:
    """Runs as the planner sees them (local day, label, end time) and the days with strength work.

    A run belongs to the day it started; one that ends after midnight leaves no time that day."""
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
            ends = activity.start_local + timedelta(seconds=activity.elapsed_s)
            end = ends.time() if ends.date() == day else time(23, 59)
            race = activity.workout_type == 1 or any(r.code in RACE_REASONS for r in label.reasons)
            runs.append(
                planner.DayRun(
                    day,
                    label.label,
                    hard=label.counts_as_hard,
                    end=end,
                    title=activity.name or "",
                    race=race,
                    distance_m=activity.distance_m,
                )
            )
    return runs, strength


def upcoming_events(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    http_session: Any = None,
    *,
    save: bool = True,
    today: date | None = None,
) -> list[planner.PlannedEvent]:
    """The training plan's events, or the last good copy when the feed cannot be read now."""
    source = config.planner.upcoming_runs_ics
    if not source:
        return []
    from runstrong_sync import upcoming

    today = today or local_day(config, now)
    try:
        events = upcoming.read_upcoming(
            source, config.athlete.zone, today, http_session=http_session, past_days=upcoming.PAST_DAYS
        )
    except UpcomingRunsError as exc:
        log.warning("%s", exc)
        with db.transaction() as session:
            cached = repo.get_state(session, athlete, UPCOMING_KEY) or {}
        if cached.get("source") != source:
            return []
        return upcoming.events_from_json(cached.get("events", []))
    if save:
        with db.transaction() as session:
            repo.set_state(
                session,
                athlete,
                UPCOMING_KEY,
                {"source": source, "events": upcoming.events_to_json(events)},
                now,
            )
    return events


def athlete_key(db: Database, athlete: int) -> str:
    with db.transaction() as session:
        row = session.get(Athlete, athlete)
        return row.key if row is not None else DEFAULT_ATHLETE


def uid_prefix(db: Database, athlete: int) -> str:
    """What new session UIDs start with: the athlete's key and this install's random part."""
    with db.transaction() as session:
        row = session.get(Athlete, athlete)
        key = row.key if row is not None else DEFAULT_ATHLETE
        return f"{key}-{feedstate.uid_part(session)}"


@dataclass(frozen=True)
class PlanInputs:
    """Everything one planning run reads: settings, runs, strength done, the previous plan."""

    settings: planner.PlanSettings
    runs: list[planner.DayRun]
    strength_days: list[date]
    previous: list[StrengthSession]


def plan_inputs(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    http_session: Any = None,
    *,
    save: bool = True,
    today: date | None = None,
) -> PlanInputs:
    settings = plan_settings(config, uid_prefix(db, athlete))  # keeps session UIDs apart
    today = today or local_day(config, now)
    since = now - timedelta(weeks=config.planner.history_weeks + 1)
    done, strength_days = day_runs(db, athlete, since)
    with db.transaction() as session:
        pause = planstate.get_pause(session, athlete)
        anchor = planstate.get_anchor(session, athlete)
        completed = planstate.strength_done(session, athlete)
        previous = repo.load_sessions(session, athlete, since)  # older sessions stay as they are
    paused = pause is not None and pause.since <= today and (pause.until is None or today <= pause.until)
    expected = [] if paused else planner.predict_runs(done, today, weeks=config.planner.history_weeks)
    events = upcoming_events(db, athlete, config, now, http_session, save=save, today=today)
    planned = planner.planned_runs(events, settings.zone)
    runs = planner.merge_runs(done, expected, today, planned)
    runs += [r for r in planned if r.race and r.day < today]  # past races of the plan: recovery
    settings = replace(
        settings,
        latest_start=(
            config.planner.latest_start
            if isinstance(config.planner.latest_start, time)
            else planner.learned_latest_start(done)
        ),
        paused_from=pause.since if pause else None,
        paused_until=pause.until if pause else None,
        block_anchor=anchor,
        completed_sessions=completed,
    )
    return PlanInputs(
        settings, sorted(runs, key=lambda r: (r.day, r.expected, r.title)), strength_days, previous
    )


def replan(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    http_session: Any = None,
    *,
    save: bool = True,
    today: date | None = None,
) -> tuple[planner.PlanResult, dict[str, int]]:
    """Plan again; with ``save`` false a what-if that writes nothing (previews, --today)."""
    inputs = plan_inputs(db, athlete, config, now, http_session, save=save, today=today)
    result = planner.plan(
        now=now,
        runs=inputs.runs,
        strength_days=inputs.strength_days,
        previous=inputs.previous,
        settings=inputs.settings,
    )
    if not save:
        return result, {}
    with db.transaction() as session:
        since = now - timedelta(weeks=config.planner.history_weeks + 1)
        counts = repo.save_sessions(session, athlete, result.sessions, config.athlete.time_zone, now, since)
        if inputs.settings.block_anchor is None and result.sessions:
            today = now.astimezone(inputs.settings.zone).date()
            first = min([today, *(s.start.astimezone(inputs.settings.zone).date() for s in result.sessions)])
            planstate.set_anchor(session, athlete, planner.week_start(first), now)
        repo.set_state(session, athlete, PLAN_NOTES_KEY, plan_notes(result, inputs.runs), now)
    return result, counts


@dataclass(frozen=True)
class PlanPreview:
    """A what-if plan: the sessions and notes as they would be, nothing written."""

    sessions: list[StrengthSession]
    notes: dict[str, Any]


def preview_plan(db: Database, athlete: int, config: Config, now: datetime) -> PlanPreview:
    inputs = plan_inputs(db, athlete, config, now, save=False)
    result = planner.plan(
        now=now,
        runs=inputs.runs,
        strength_days=inputs.strength_days,
        previous=inputs.previous,
        settings=inputs.settings,
    )
    return PlanPreview(result.sessions, plan_notes(result, inputs.runs))


def plan_notes(result: planner.PlanResult, runs: Sequence[planner.DayRun]) -> dict[str, Any]:
    """The plan's notes as stored and shown (terminal, page): texts, typed notes and the runs."""
    notes = result.notes_json()
    notes["runs"] = [
        {
            "day": r.day.isoformat(),
            "label": r.label.value,
            "hard": r.hard,
            "expected": r.expected,
            "source": r.source,
            "end": r.end.isoformat(timespec="minutes") if r.end else None,
            "title": r.title,
            "race": r.race,
        }
        for r in runs
    ]
    return notes


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
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    *,
    ignore: Sequence[str] = (),
    today: date | None = None,
) -> list[Any]:
    """The sync-health event for the feed, when the last sync is too old or Strava needs the runner."""
    watched = {runs.PIPELINE, *enabled_sources(config)}  # not one-off imports, not sources turned off
    with db.transaction() as session:
        facts = [f for f in runs.source_health(session, athlete) if f.source in watched]
    stale_after = timedelta(hours=config.feed.stale_after_hours)
    notice = health.sync_notice(facts, now, stale_after, ignore=ignore)
    if notice is None:
        return []
    today = today or local_day(config, now)
    with db.transaction() as session:
        uid = f"sync-health-{athlete}-{feedstate.uid_part(session)}@runstrong-sync"
    return [health.notice_event(notice, uid, now, today)]


def runs_feed(db: Database, athlete: int, config: Config, now: datetime) -> bytes:
    """The runs feed; a run whose label, title or description changed gets a higher SEQUENCE."""
    from runstrong_sync.feed import RunStamp, build_runs_feed, run_content_hash

    since = now - timedelta(weeks=config.feed.past_weeks + 1)
    with db.transaction() as session:
        labelled = [i for i in repo.labelled_activities(session, athlete, since) if i.activity.is_run]
        contents = {item.id: run_content_hash(item) for item in labelled}
        stamps = feedstate.run_stamps(session, athlete, labelled, contents, now)
    today = now.astimezone(config.athlete.zone).date()
    return build_runs_feed(
        labelled, feed_settings(config), today, {k: RunStamp(*v) for k, v in stamps.items()}
    )


def publish(
    db: Database,
    athlete: int,
    config: Config,
    now: datetime,
    path: Path | None = None,
    *,
    ignore_health_of: Sequence[str] = (),
    today: date | None = None,
) -> tuple[Path, bool]:
    """Write every enabled feed atomically; returns the main feed's path and whether it changed."""
    from runstrong_sync.feed import build_busy_feed, build_feed

    files = feed_files(config, path)
    today = today or local_day(config, now)
    settings = feed_settings(config)
    sessions = stored_sessions(db, athlete, now - timedelta(weeks=config.feed.past_weeks, days=2))
    extra = health_events(db, athlete, config, now, ignore=ignore_health_of, today=today)
    try:
        changed = write_atomic(files["strength"], build_feed(sessions, settings, today, extra))
        if "busy" in files:
            write_atomic(files["busy"], build_busy_feed(sessions, settings, today))
        if "runs" in files:
            write_atomic(files["runs"], runs_feed(db, athlete, config, now))
    except OSError as exc:
        raise RunstrongError(
            f"The feed {files['strength']} could not be written: {exc.strerror or exc}. "
            "The previous feed is still there, unchanged.",
            ["Free some space on that disk (or fix its permissions), then run `runstrong-sync sync` again."],
        ) from exc
    return files["strength"], changed


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
        report.relabelled = relabel(db, athlete_id, config, now)
        _, report.plan_changes = replan(db, athlete_id, config, now, request.http_session, today=today)
        publish_plan(db, athlete_id, config, context, names, report)
        report.feed_path, report.feed_changed = publish(
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
            summary = publish(context, stored_sessions(db, athlete), db, athlete)
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
        report.sources.append(_run_source(db, athlete_id, name, events, request, report))
    if request.import_paths:
        events = partial(file_events, context, request.import_paths)
        report.sources.append(_run_source(db, athlete_id, "import", events, request, report))
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
) -> SourceReport:
    now = request.now
    with db.transaction() as session:
        run_id = runs.start(session, athlete_id, name, now)
    try:
        result = ingest(db, athlete_id, name, events(), now, request.should_stop)
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
