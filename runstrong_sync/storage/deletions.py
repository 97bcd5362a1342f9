"""Activities the runner deleted: remembered by every identity, so a sync does not bring them back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from runstrong_sync.core.domain import Activity
from runstrong_sync.storage.models import ActivityRow, ActivitySource, DeletedActivityRow, RunEventRow


def delete_activity(session: Session, athlete_id: int, activity_id: int, now: datetime) -> ActivityRow | None:
    """Delete one activity and remember each identity it was known by; None when there is none."""
    row = session.get(ActivityRow, activity_id)
    if row is None or row.athlete_id != athlete_id:
        return None
    identities = session.scalars(select(ActivitySource).where(ActivitySource.activity_id == row.id)).all()
    known = {(i.source, i.external_id, i.fingerprint) for i in identities}
    known.add((row.source, row.external_id, None))
    for source, external_id, fingerprint in sorted(known, key=lambda k: (k[0], k[1], k[2] or "")):
        session.add(
            DeletedActivityRow(
                athlete_id=athlete_id,
                source=source,
                external_id=external_id,
                fingerprint=fingerprint,
                deleted_at=now,
            )
        )
    session.execute(delete(RunEventRow).where(RunEventRow.activity_id == row.id))
    session.delete(row)
    session.flush()
    return row


def any_deleted(session: Session, athlete_id: int) -> bool:
    query = select(DeletedActivityRow.id).where(DeletedActivityRow.athlete_id == athlete_id).limit(1)
    return session.scalar(query) is not None


def _matching(athlete_id: int, activity: Activity, fingerprint: str | None) -> ColumnElement[bool]:
    same_identity = (DeletedActivityRow.source == activity.source) & (
        DeletedActivityRow.external_id == activity.external_id
    )
    condition: ColumnElement[bool] = same_identity
    if fingerprint:
        condition = or_(same_identity, DeletedActivityRow.fingerprint == fingerprint)
    return (DeletedActivityRow.athlete_id == athlete_id) & condition


def was_deleted(session: Session, athlete_id: int, activity: Activity, fingerprint: str | None) -> bool:
    """True when the runner deleted this activity (the same source record or the same file)."""
    found = session.scalar(select(DeletedActivityRow.id).where(_matching(athlete_id, activity, fingerprint)))
    return found is not None


def forget_deletion(session: Session, athlete_id: int, activity: Activity, fingerprint: str | None) -> None:
    """An explicit import brings a deleted activity back: forget that it was deleted."""
    session.execute(delete(DeletedActivityRow).where(_matching(athlete_id, activity, fingerprint)))
