"""sync runs looked up by athlete and source

Revision ID: 0002_ops
Revises: 0001
Create Date: 2026-11-26 01:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0002_ops"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_runs_athlete_source", ["athlete_id", "source", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_athlete_source")
