"""What the feeds have published: the install's UID part and each run's UID, SEQUENCE and stamp."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from runstrong_sync.core.domain import LabelledActivity
from runstrong_sync.storage.models import InstallRow, RunEventRow

UID_PART_KEY = "uid_part"


def uid_part(session: Session) -> str:
    """The random part of this install's new feed UIDs (made once, kept in the database)."""
    row = session.get(InstallRow, UID_PART_KEY)
    if row is None:
        row = InstallRow(key=UID_PART_KEY, value=secrets.token_hex(6))
        session.add(row)
        session.flush()
    return row.value


def run_stamps(
    session: Session,
    athlete_id: int,
    runs: Sequence[LabelledActivity],
    contents: Mapping[int, str],
    now: datetime,
) -> dict[int, tuple[str, int, datetime | None]]:
    """Each run's (UID, SEQUENCE, last change); SEQUENCE rises and the change time becomes
    ``now`` when what the feed shows of the run changed.

    ``contents`` is each run's digest of what the feed shows (``feed.run_content_hash``). A run
    seen for the first time gets a UID with this install's random part; known runs keep theirs."""
    ids = [item.id for item in runs]
    known = {
        row.activity_id: row
        for row in session.scalars(select(RunEventRow).where(RunEventRow.activity_id.in_(ids)))
    }
    part = uid_part(session) if len(known) < len(ids) else ""
    out: dict[int, tuple[str, int, datetime | None]] = {}
    for item in runs:
        digest = contents[item.id]
        row = known.get(item.id)
        if row is None:
            row = RunEventRow(
                activity_id=item.id,
                athlete_id=athlete_id,
                uid=f"run-{item.id}-{part}@runstrong-sync",
                content_hash=digest,
                sequence=0,
                changed_at=None,
            )
            session.add(row)
        elif row.content_hash is None:
            row.content_hash = digest  # published before the content was recorded: as it was
        elif row.content_hash != digest:
            end = item.activity.start_utc + timedelta(seconds=round(item.activity.elapsed_s))
            before = row.changed_at or end
            row.content_hash = digest
            row.sequence += 1
            row.changed_at = max(now, before + timedelta(seconds=1))
        out[item.id] = (row.uid, row.sequence, row.changed_at)
    session.flush()
    return out
