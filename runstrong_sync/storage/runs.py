"""Sync runs: one row per source per run, and one for the whole pipeline; what `status` reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runstrong_sync.domain import SyncOutcome
from runstrong_sync.health import OK_OUTCOMES, SourceHealth
from runstrong_sync.storage import repo
from runstrong_sync.storage.models import RejectionRow, SyncRunRow

PIPELINE = "pipeline"
RUNNING = SyncOutcome.RUNNING


def start(session: Session, athlete_id: int, source: str, now: datetime) -> int:
    return repo.start_sync_run(session, athlete_id, source, now).id


def finish(
    session: Session, run_id: int, outcome: SyncOutcome, now: datetime, summary: dict[str, Any] | None = None
) -> None:
    run = session.get(SyncRunRow, run_id)
    if run is None:
        return
    run.outcome = outcome
    run.finished_at = now
    run.summary_json = summary or {}


def close_abandoned(session: Session, athlete_id: int, now: datetime) -> int:
    """Runs still marked running when a new one starts under the lock were killed: say so."""
    abandoned = session.scalars(
        select(SyncRunRow).where(SyncRunRow.athlete_id == athlete_id, SyncRunRow.outcome == RUNNING)
    ).all()
    for run in abandoned:
        run.outcome = SyncOutcome.INTERRUPTED
        run.finished_at = now
        run.summary_json = {"message": "the process ended before this run finished"}
    return len(abandoned)


def source_health(session: Session, athlete_id: int) -> list[SourceHealth]:
    """Per source: first and last finished run, its outcome, and the last success (by aggregates)."""
    finished = (SyncRunRow.athlete_id == athlete_id, SyncRunRow.outcome != RUNNING)
    firsts = dict(
        session.execute(
            select(SyncRunRow.source, func.min(SyncRunRow.started_at))
            .where(*finished)
            .group_by(SyncRunRow.source)
        ).all()
    )
    successes = dict(
        session.execute(
            select(SyncRunRow.source, func.max(SyncRunRow.finished_at))
            .where(*finished, SyncRunRow.outcome.in_(sorted(OK_OUTCOMES)))
            .group_by(SyncRunRow.source)
        ).all()
    )
    newest = select(func.max(SyncRunRow.id)).where(*finished).group_by(SyncRunRow.source)
    out = []
    for last in session.scalars(
        select(SyncRunRow).where(SyncRunRow.id.in_(newest)).order_by(SyncRunRow.source)
    ):
        message = last.summary_json.get("message") if isinstance(last.summary_json, dict) else None
        success = successes.get(last.source)
        out.append(
            SourceHealth(
                source=last.source,
                first_started=_aware(firsts[last.source]),
                last_started=last.started_at,
                last_outcome=last.outcome,
                last_message=message,
                last_success=_aware(success) if success is not None else None,
            )
        )
    return out


def _aware(value: datetime) -> datetime:
    """Aggregates bypass the column type on some databases: make the value UTC-aware."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def last_runs(session: Session, athlete_id: int) -> list[SyncRunRow]:
    """The newest run of each source, unfinished ones included."""
    newest = (
        select(SyncRunRow.source, func.max(SyncRunRow.id).label("id"))
        .where(SyncRunRow.athlete_id == athlete_id)
        .group_by(SyncRunRow.source)
        .subquery()
    )
    return list(
        session.scalars(
            select(SyncRunRow).join(newest, SyncRunRow.id == newest.c.id).order_by(SyncRunRow.source)
        ).all()
    )


def rejection_count(session: Session, athlete_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(RejectionRow).where(RejectionRow.athlete_id == athlete_id)
        )
        or 0
    )
