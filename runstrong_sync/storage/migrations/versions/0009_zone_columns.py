"""what the time-zone detection reads, in columns of activities: Strava's zone, the file's offset

Revision ID: 0009_zone_columns
Revises: 0008_garmin
Create Date: 2026-11-28 13:10:00

Both are taken from the raw payload, which stays as it is: ``time_zone`` is the zone Strava gives
a Strava activity (the IANA name in "(GMT+09:00) Asia/Tokyo"), ``file_offset_s`` the UTC offset a
file wrote itself (FIT local_timestamp; the payload's ``offset_from`` is "file"). Rows stored
before are filled from their payloads here, a batch at a time, inside the migration's transaction.
An index over both and the start lets a squad's newest activities be counted without the wide rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision = "0009_zone_columns"
down_revision = "0008_garmin"
branch_labels = None
depends_on = None

BATCH = 2000
UTC_NAMES = frozenset({"Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "UCT", "Zulu", "GMT"})

activities = sa.table(
    "activities",
    sa.column("id", sa.Integer()),
    sa.column("source", sa.String()),
    sa.column("utc_offset_s", sa.Integer()),
    sa.column("raw_json", sa.JSON()),
    sa.column("time_zone", sa.String()),
    sa.column("file_offset_s", sa.Integer()),
)


def _strava_zone(value: Any) -> str | None:
    """As tzdetect.strava_zone_name when this revision was written."""
    if not isinstance(value, str):
        return None
    name = value.rsplit(")", 1)[-1].strip()
    if not name or name.startswith(("/", ".")):
        return None
    try:
        ZoneInfo("UTC" if name in UTC_NAMES else name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def columns(source: str, utc_offset_s: int, raw: Any) -> tuple[str | None, int | None]:
    if not isinstance(raw, Mapping):
        return None, None
    if source == "strava":
        return _strava_zone(raw.get("timezone")), None
    if raw.get("offset_from") == "file":
        return None, utc_offset_s
    return None, None


def backfill(connection: sa.Connection) -> None:
    last = 0
    update = (
        activities.update()
        .where(activities.c.id == sa.bindparam("row_id"))
        .values(time_zone=sa.bindparam("zone"), file_offset_s=sa.bindparam("offset"))
    )
    while True:
        batch = connection.execute(
            sa.select(activities.c.id, activities.c.source, activities.c.utc_offset_s, activities.c.raw_json)
            .where(activities.c.id > last)
            .order_by(activities.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        last = batch[-1].id
        values = []
        for row in batch:
            zone, offset = columns(row.source, row.utc_offset_s, row.raw_json)
            if zone is not None or offset is not None:
                values.append({"row_id": row.id, "zone": zone, "offset": offset})
        if values:
            connection.execute(update, values)


def upgrade() -> None:
    op.add_column("activities", sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.add_column("activities", sa.Column("file_offset_s", sa.Integer(), nullable=True))
    backfill(op.get_bind())
    # read by the detection for a whole squad at once, without touching the wide rows
    op.create_index(
        "ix_activities_zone", "activities", ["athlete_id", "start_utc", "time_zone", "file_offset_s"]
    )


def downgrade() -> None:
    op.drop_index("ix_activities_zone", table_name="activities")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("file_offset_s")
        batch.drop_column("time_zone")
