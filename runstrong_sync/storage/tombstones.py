"""Activities kept aside after a source's access was revoked: hidden, restorable, purged in time.

A tombstoned activity is in no plan, feed, page or label run (``repo.activity_rows`` leaves it out).
``restore`` brings it back as it was; ``purge`` deletes the ones older than ``KEEP``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from runstrong_sync.storage import repo
from runstrong_sync.storage.models import ActivityRow

KEEP = timedelta(days=30)


def hide(session: Session, athlete_id: int, source: str, external_id: str, now: datetime) -> bool:
    """Tombstone the activity ``source`` knows as ``external_id``, unless another source knows it too."""
    identity = repo.find_identity(session, athlete_id, source, external_id)
    if identity is None:
        return False
    row = identity.activity
    if row.tombstoned_at is not None or any(s.source != source for s in row.sources):
        return False
    row.tombstoned_at = now
    return True


def restore(session: Session, athlete_id: int) -> int:
    """Bring back every tombstoned activity of the athlete; returns how many."""
    result = session.execute(
        update(ActivityRow)
        .where(ActivityRow.athlete_id == athlete_id, ActivityRow.tombstoned_at.is_not(None))
        .values(tombstoned_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def count(session: Session, athlete_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ActivityRow)
            .where(ActivityRow.athlete_id == athlete_id, ActivityRow.tombstoned_at.is_not(None))
        )
        or 0
    )


def purge(session: Session, athlete_id: int, now: datetime) -> int:
    """Delete the athlete's tombstones older than ``KEEP``; returns how many."""
    result = session.execute(
        delete(ActivityRow)
        .where(ActivityRow.athlete_id == athlete_id, ActivityRow.tombstoned_at < now - KEEP)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
