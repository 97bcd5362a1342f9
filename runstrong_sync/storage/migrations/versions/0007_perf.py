"""activities without a label and unfinished sync runs found through partial indexes

Revision ID: 0007_perf
Revises: 0006_firsthour
Create Date: 2026-11-28 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_perf"
down_revision = "0006_firsthour"
branch_labels = None
depends_on = None

UNLABELLED = sa.text("label IS NULL")
RUNNING = sa.text("outcome = 'running'")


def upgrade() -> None:
    op.create_index(
        "ix_activities_unlabelled",
        "activities",
        ["athlete_id", "start_utc"],
        unique=False,
        sqlite_where=UNLABELLED,
        postgresql_where=UNLABELLED,
    )
    op.create_index(
        "ix_sync_runs_running",
        "sync_runs",
        ["athlete_id"],
        unique=False,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )


def downgrade() -> None:
    op.drop_index("ix_sync_runs_running", table_name="sync_runs")
    op.drop_index("ix_activities_unlabelled", table_name="activities")
