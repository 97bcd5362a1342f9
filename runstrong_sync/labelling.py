"""Labelling, the pipeline's classify stage: every run labelled easy/hard/long from stored numbers
only (never re-reading files or Strava), each judged by the zones in force on its date: configured
values, Strava's athlete zones, estimates from the runner's own runs. The `zones` and `relabel`
commands use it alone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from runstrong_sync.config import Config
from runstrong_sync.core import classify as classifier
from runstrong_sync.core.domain import Activity, Label, Zones
from runstrong_sync.core.zones import (
    HISTORY_DAYS,
    ConfiguredPeriod,
    RunEffort,
    ZoneTimeline,
    resolve_zones,
    zones_from_strava,
)
from runstrong_sync.storage import codec, repo
from runstrong_sync.storage.db import Database
from runstrong_sync.storage.models import ActivityRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RELABEL_WINDOW_DAYS = 56  # labels that depend on recent history are refreshed this far back
CLASSIFY_LOOKBACK_DAYS = 91  # a label looks back at most 90 days (classify's RunHistory.before)
STRAVA_ZONES_KEY = "strava.zones"  # Strava's GET /athlete/zones answer, stored by `strava auth`
LABEL_BASIS_KEY = "classify.basis"  # zones and classifier version the stored labels were made with
CHUNK_ROWS = 100  # activities read, or labelled, at a time: memory stays flat however many there are


def _zones_for(
    config: Config, strava: dict[str, Any] | None, history: Sequence[Activity | RunEffort]
) -> Zones:
    a = config.athlete
    return resolve_zones(
        max_hr=a.max_hr,
        threshold_hr=a.threshold_hr,
        resting_hr=a.resting_hr,
        threshold_speed_mps=a.threshold_speed_mps,
        strava=zones_from_strava(strava),
        history=history,
    )


def zone_timeline(
    config: Config, strava: dict[str, Any] | None, history: Sequence[Activity | RunEffort]
) -> ZoneTimeline:
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
        history = _scan(session, athlete, None).efforts
        strava = repo.get_state(session, athlete, STRAVA_ZONES_KEY)
    return zone_timeline(config, strava, history).history()


def current_zones(db: Database, athlete: int, config: Config) -> Zones:
    """Configuration first, then Strava's athlete zones, then estimates from stored runs."""
    with db.transaction() as session:
        newest = repo.newest_start(session, athlete)
        since = None if newest is None else newest - timedelta(days=HISTORY_DAYS + 1)
        history = _window(session, athlete, since).efforts
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


@dataclass
class _Window:
    """What relabelling keeps of every activity it reads: a few numbers each, never the rows."""

    efforts: list[RunEffort] = field(default_factory=list)  # the runs, for the zone estimates
    runs: list[classifier.RunSummary] = field(default_factory=list)  # the runs, for the history
    labels: list[tuple[int, str | None, datetime]] = field(default_factory=list)  # id, label, start


def _scan(session: Session, athlete: int, since: datetime | None) -> _Window:
    """The stored activities from ``since`` on (all with None), read a chunk at a time: only the
    columns the summaries need, each as an Activity that holds just those."""
    query = select(
        ActivityRow.id,
        ActivityRow.label,
        ActivityRow.start_utc,
        ActivityRow.sport,
        ActivityRow.moving_s,
        ActivityRow.distance_m,
        ActivityRow.avg_speed_mps,
        ActivityRow.workout_type,
        ActivityRow.trainer,
        ActivityRow.derived_json,
    ).where(ActivityRow.athlete_id == athlete, ActivityRow.tombstoned_at.is_(None))
    if since is not None:
        query = query.where(ActivityRow.start_utc >= since)
    query = query.order_by(ActivityRow.start_utc, ActivityRow.id).execution_options(yield_per=CHUNK_ROWS)
    window = _Window()
    for row_id, label, start, sport, moving, distance, speed, workout, trainer, derived in session.execute(
        query
    ):
        window.labels.append((row_id, label, start))
        activity = Activity(
            source="",
            source_ref="",
            external_id="",
            sport=sport,
            start_utc=start,
            utc_offset_s=0,
            elapsed_s=0.0,
            moving_s=moving,
            distance_m=distance,
            avg_speed_mps=speed,
            workout_type=workout,
            trainer=trainer,
            derived=codec.derived_from_json(derived),
        )
        effort = RunEffort.of(activity)
        if effort is not None:
            window.efforts.append(effort)
        if activity.is_run:
            window.runs.append(classifier.RunSummary(start.timestamp(), moving, distance, speed))
    return window


def _window(session: Session, athlete: int, since: datetime | None) -> _Window:
    """The stored activities from ``since`` on (all with None); all of them when the newest run
    is too old for the window to hold the runs the zones are estimated from."""
    window = _scan(session, athlete, since)
    if since is not None:
        runs = [e.start_utc for e in window.efforts]
        if not runs or max(runs) - timedelta(days=HISTORY_DAYS + 1) < since:
            return _window(session, athlete, None)
    return window


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
    classifier changed since the labels were made. The activities are read a chunk at a time,
    twice (what the zones and the history need, then those to label), so memory stays flat
    however many were imported.
    """
    with db.transaction() as session:
        since = None if everything else _relabel_since(session, athlete, now)
        window = _window(session, athlete, since)
        strava = repo.get_state(session, athlete, STRAVA_ZONES_KEY)
        zones = _zones_for(config, strava, window.efforts)
        basis = _label_basis(zones)
        if config.athlete.earlier:  # dated thresholds: a change there relabels the runs it covers
            basis["earlier"] = [e.model_dump(mode="json") for e in config.athlete.earlier]
        if repo.get_state(session, athlete, LABEL_BASIS_KEY) != basis:
            everything = True  # new thresholds or a new classifier: every label may change
            repo.set_state(session, athlete, LABEL_BASIS_KEY, basis, now)
            if since is not None:
                window = _window(session, athlete, None)
        timeline = zone_timeline(config, strava, window.efforts)  # each run judged by its date's thresholds
        history = classifier.RunHistory(window.runs)
        recent = now - timedelta(days=RELABEL_WINDOW_DAYS)
        due = [i for i, label, start in window.labels if everything or label is None or start >= recent]
        del window
        return _label(session, due, timeline, history)


def _label(session: Session, due: list[int], timeline: ZoneTimeline, history: classifier.RunHistory) -> int:
    """Label the activities ``due``, a chunk at a time; the number of labels that changed."""
    changed = 0
    for start in range(0, len(due), CHUNK_ROWS):
        for row in repo.rows_by_id(session, due[start : start + CHUNK_ROWS]):
            activity = repo.row_to_activity(row)
            override = Label(row.label_override) if row.label_override else None
            result = classifier.classify(activity, timeline.at(activity.start_utc), history, override)
            changed += int(repo.save_classification(row, result))
        session.flush()  # the chunk's labels are written: its rows can go
    return changed
