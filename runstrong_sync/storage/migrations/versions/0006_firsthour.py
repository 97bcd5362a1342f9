"""install-wide UID part, runs feed events with SEQUENCE, deleted-activity tombstones

Revision ID: 0006_firsthour
Revises: 0003_security
Create Date: 2026-11-28 10:30:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006_firsthour"
down_revision = "0003_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    install = op.create_table(
        "install",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "run_events",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("activity_id"),
    )
    op.create_table(
        "deleted_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_deleted_activities_identity", "deleted_activities", ["athlete_id", "source", "external_id"]
    )
    op.create_index("ix_deleted_activities_fingerprint", "deleted_activities", ["athlete_id", "fingerprint"])
    # The random part of every new feed UID from now on, so two installs never share one.
    op.bulk_insert(install, [{"key": "uid_part", "value": secrets.token_hex(6)}])
    # Runs already stored may have been published under the old UIDs: they keep them (SEQUENCE 0,
    # stamped with the end of the run, as before); their content is recorded at the next publish.
    op.execute(
        "INSERT INTO run_events (activity_id, athlete_id, uid, content_hash, sequence, changed_at) "
        "SELECT id, athlete_id, 'run-' || id || '@runstrong-sync', NULL, 0, NULL FROM activities"
    )


def downgrade() -> None:
    op.drop_index("ix_deleted_activities_fingerprint", table_name="deleted_activities")
    op.drop_index("ix_deleted_activities_identity", table_name="deleted_activities")
    op.drop_table("deleted_activities")
    op.drop_table("run_events")
    op.drop_table("install")
