"""What `status` and `athletes list` show, read for every athlete at once: a few grouped queries
instead of several per athlete, so a squad of a thousand lists in well under a second."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from runstrong_sync.health import OK_OUTCOMES, SourceHealth
from runstrong_sync.storage.models import ActivityRow, RejectionRow, StateRow, SyncRunRow
from runstrong_sync.storage.runs import RUNNING


@dataclass
class AthleteFacts:
    activities: int = 0
    rejected: int = 0
    last_runs: list[SyncRunRow] = field(default_factory=list)
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


def facts(
    session: Session, athletes: Sequence[int] | None, state_keys: Sequence[str]
) -> dict[int, AthleteFacts]:
    """Counts, newest runs, source health and the named states of ``athletes`` (None: everyone)."""
    out: dict[int, AthleteFacts] = defaultdict(AthleteFacts)
    for athlete, count in activity_counts(session, athletes).items():
        out[athlete].activities = count
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


def _runs(session: Session, athletes: Sequence[int] | None, out: dict[int, AthleteFacts]) -> None:
    scope = [SyncRunRow.athlete_id.in_(athletes)] if athletes is not None else []
    finished = [*scope, SyncRunRow.outcome != RUNNING]
    group = (SyncRunRow.athlete_id, SyncRunRow.source)
    newest_any = select(func.max(SyncRunRow.id)).where(*scope).group_by(*group)
    for row in session.scalars(
        select(SyncRunRow).where(SyncRunRow.id.in_(newest_any)).order_by(SyncRunRow.source)
    ):
        out[row.athlete_id].last_runs.append(row)
    firsts = {
        (a, s): started
        for a, s, started in session.execute(
            select(*group, func.min(SyncRunRow.started_at)).where(*finished).group_by(*group)
        ).all()
    }
    successes = {
        (a, s): finished_at
        for a, s, finished_at in session.execute(
            select(*group, func.max(SyncRunRow.finished_at))
            .where(*finished, SyncRunRow.outcome.in_(sorted(OK_OUTCOMES)))
            .group_by(*group)
        ).all()
    }
    newest_finished = select(func.max(SyncRunRow.id)).where(*finished).group_by(*group)
    for last in session.scalars(
        select(SyncRunRow).where(SyncRunRow.id.in_(newest_finished)).order_by(SyncRunRow.source)
    ):
        key = (last.athlete_id, last.source)
        message = last.summary_json.get("message") if isinstance(last.summary_json, dict) else None
        success = successes.get(key)
        out[last.athlete_id].health.append(
            SourceHealth(
                source=last.source,
                first_started=_aware(firsts[key]),
                last_started=last.started_at,
                last_outcome=last.outcome,
                last_message=message,
                last_success=_aware(success) if success is not None else None,
            )
        )
