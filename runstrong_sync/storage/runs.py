"""Sync runs: one row per source per run, and one for the whole pipeline; what `status` reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runstrong_sync.core.domain import SyncOutcome
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


def sources_run(session: Session, athlete_id: int) -> list[str]:
    """The sources with sync runs, one index seek each (a loose scan of the (athlete, source, id)
    index), however many runs years of nightly syncs have left."""
    runs = SyncRunRow.__table__
    first = select(func.min(runs.c.source).label("source")).where(runs.c.athlete_id == athlete_id)
    seen = first.cte("seen", recursive=True)
    following = (
        select(func.min(runs.c.source))
        .where(runs.c.athlete_id == athlete_id, runs.c.source > seen.c.source)
        .scalar_subquery()
    )
    seen = seen.union_all(select(following).where(seen.c.source.is_not(None)))
    return [name for name in session.scalars(select(seen.c.source)) if name is not None]


def _edge_run(session: Session, athlete_id: int, source: str, *, newest: bool, ok: bool = False) -> Any:
    """The first or the newest finished run of a source (or its newest success), read from the
    end of the index, so the cost does not grow with the number of runs."""
    query = select(SyncRunRow).where(
        SyncRunRow.athlete_id == athlete_id, SyncRunRow.source == source, SyncRunRow.outcome != RUNNING
    )
    if ok:
        query = query.where(SyncRunRow.outcome.in_(sorted(OK_OUTCOMES)))
    return session.scalars(query.order_by(SyncRunRow.id.desc() if newest else SyncRunRow.id).limit(1)).first()


def source_health(session: Session, athlete_id: int) -> list[SourceHealth]:
    """Per source: first and last finished run, its outcome, and the last success."""
    out = []
    for source in sources_run(session, athlete_id):
        last = _edge_run(session, athlete_id, source, newest=True)
        if last is None:
            continue  # only a run in progress so far
        first = _edge_run(session, athlete_id, source, newest=False)
        success = (
            last
            if last.outcome in OK_OUTCOMES
            else _edge_run(session, athlete_id, source, newest=True, ok=True)
        )
        message = last.summary_json.get("message") if isinstance(last.summary_json, dict) else None
        out.append(
            SourceHealth(
                source=source,
                first_started=first.started_at,
                last_started=last.started_at,
                last_outcome=last.outcome,
                last_message=message,
                last_success=success.finished_at if success is not None else None,
            )
        )
    return out


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
