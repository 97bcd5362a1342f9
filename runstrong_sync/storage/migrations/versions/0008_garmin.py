"""strength sessions written to Garmin Connect as workouts

Revision ID: 0008_garmin
Revises: 0007_perf
Create Date: 2026-11-28 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_garmin"
down_revision = "0007_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "garmin_workouts",
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("session_uid", sa.String(length=200), nullable=False),
        sa.Column("workout_id", sa.String(length=40), nullable=True),
        sa.Column("schedule_id", sa.String(length=40), nullable=True),
        sa.Column("scheduled_date", sa.String(length=10), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("athlete_id", "session_uid"),
    )


def downgrade() -> None:
    op.drop_table("garmin_workouts")
