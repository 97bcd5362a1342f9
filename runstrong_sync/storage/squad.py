"""What `status` and `athletes list` show, read for every athlete at once: a few grouped queries
instead of several per athlete, so a squad of a thousand lists in well under a second."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, type_coerce
from sqlalchemy.orm import Session

from runstrong_sync.health import OK_OUTCOMES, SourceHealth
from runstrong_sync.storage.models import ActivityRow, Athlete, RejectionRow, StateRow, SyncRunRow
from runstrong_sync.storage.runs import RUNNING

# What an athlete's activities were when something was worked out from them (the time-zone
# sample): how many, the newest id, how many name a Strava zone, how many wrote their own offset,
# the newest start. Any activity stored, replaced or deleted since changes at least one of them.
EMPTY_FINGERPRINT: tuple[Any, ...] = (0, None, 0, 0, None)


@dataclass
class AthleteFacts:
    activities: int = 0
    fingerprint: list[Any] = field(default_factory=lambda: list(EMPTY_FINGERPRINT))
    rejected: int = 0
    last_runs: list[LastRun] = field(default_factory=list)
    health: list[SourceHealth] = field(default_factory=list)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)


def _aware(value: datetime) -> datetime:
    """Aggregates bypass the column type on some databases: make the value UTC-aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _counts(session: Session, column: Any, athlete_filter: ColumnElement[bool] | None) -> dict[int, int]:
    query = select(column, func.count()).group_by(column)
    if athlete_filter is not None:
        query = query.where(athlete_filter)
    return {athlete: count for athlete, count in session.execute(query).all()}


def activity_counts(session: Session, athletes: Sequence[int] | None = None) -> dict[int, int]:
    where = ActivityRow.athlete_id.in_(athletes) if athletes is not None else None
    return _counts(session, ActivityRow.athlete_id, where)


def fingerprints(session: Session, athletes: Sequence[int] | None = None) -> dict[int, list[Any]]:
    """Per athlete with activities, their fingerprint (``EMPTY_FINGERPRINT``'s fields) as JSON
    stores it: one grouped query over the index of the zone columns, and each athlete's newest
    start looked up in the index of starts (a maximum of every start would read them all)."""
    row = ActivityRow
    query = select(
        row.athlete_id,
        func.count(),
        func.max(row.id),
        func.count(row.time_zone),
        func.count(row.file_offset_s),
    ).group_by(row.athlete_id)
    newest_start = (
        select(row.start_utc).where(row.athlete_id == Athlete.id).order_by(row.start_utc.desc()).limit(1)
    )
    newest = select(Athlete.id, newest_start.scalar_subquery())
    if athletes is not None:
        query = query.where(row.athlete_id.in_(athletes))
        newest = newest.where(Athlete.id.in_(athletes))
    starts = {athlete: start for athlete, start in session.execute(newest)}
    return {
        athlete: [count, last, zones, offsets, _aware(starts[athlete]).isoformat()]
        for athlete, count, last, zones, offsets in session.execute(query)
    }


def facts(
    session: Session, athletes: Sequence[int] | None, state_keys: Sequence[str]
) -> dict[int, AthleteFacts]:
    """Counts, newest runs, source health and the named states of ``athletes`` (None: everyone)."""
    out: dict[int, AthleteFacts] = defaultdict(AthleteFacts)
    for athlete, fingerprint in fingerprints(session, athletes).items():
        out[athlete].activities = fingerprint[0]
        out[athlete].fingerprint = fingerprint
    rejection_filter = RejectionRow.athlete_id.in_(athletes) if athletes is not None else None
    for athlete, count in _counts(session, RejectionRow.athlete_id, rejection_filter).items():
        out[athlete].rejected = count
    states = select(StateRow).where(StateRow.key.in_(list(state_keys)))
    if athletes is not None:
        states = states.where(StateRow.athlete_id.in_(athletes))
    for row in session.scalars(states):
        out[row.athlete_id].states[row.key] = row.value_json
    _runs(session, athletes, out)
    return out


@dataclass(frozen=True, slots=True)
class LastRun:
    """A source's newest sync run, as `status` shows it."""

    source: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    summary_json: dict[str, Any]


def _runs(session: Session, athletes: Sequence[int] | None, out: dict[int, AthleteFacts]) -> None:
    """Per athlete and source, in one grouped query: the newest run, the newest finished one, when
    the first finished run started and when the last successful one finished; then those runs."""
    finished = SyncRunRow.outcome != RUNNING
    ok = SyncRunRow.outcome.in_(sorted(OK_OUTCOMES))
    stamp = SyncRunRow.started_at.type
    grouped = select(
        SyncRunRow.athlete_id,
        SyncRunRow.source,
        func.max(SyncRunRow.id),
        func.max(case((finished, SyncRunRow.id))),
        type_coerce(func.min(case((finished, SyncRunRow.started_at))), stamp),
        type_coerce(func.max(case((ok, SyncRunRow.finished_at))), stamp),
    ).group_by(SyncRunRow.athlete_id, SyncRunRow.source)
    if athletes is not None:
        grouped = grouped.where(SyncRunRow.athlete_id.in_(athletes))
    groups = session.execute(grouped).all()
    wanted = {i for g in groups for i in g[2:4] if i is not None}
    runs = {
        r.id: LastRun(r.source, r.started_at, r.finished_at, r.outcome, r.summary_json)
        for r in session.execute(
            select(
                SyncRunRow.id,
                SyncRunRow.source,
                SyncRunRow.started_at,
                SyncRunRow.finished_at,
                SyncRunRow.outcome,
                SyncRunRow.summary_json,
            ).where(SyncRunRow.id.in_(wanted))
        )
    }
    for athlete, _, newest, newest_finished, first, success in sorted(groups, key=lambda g: g[1]):
        out[athlete].last_runs.append(runs[newest])
        if newest_finished is not None:
            out[athlete].health.append(_health(runs[newest_finished], first, success))


def _health(last: LastRun, first: datetime, success: datetime | None) -> SourceHealth:
    message = last.summary_json.get("message") if isinstance(last.summary_json, dict) else None
    return SourceHealth(
        source=last.source,
        first_started=_aware(first),
        last_started=last.started_at,
        last_outcome=last.outcome,
        last_message=message,
        last_success=_aware(success) if success is not None else None,
    )
