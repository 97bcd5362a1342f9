"""tombstoned activities and the install's own secrets

Revision ID: 0003_security
Revises: 0002_ops
Create Date: 2026-11-28 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_security"
down_revision = "0002_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tombstoned_at", sa.DateTime(), nullable=True))
    op.create_table(
        "install_secrets",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    _clean_stored_names()


def _clean_stored_names() -> None:
    """Names stored before text was cleaned at the border: cleaned once now."""
    from runstrong_sync.core.text import clean_text

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, name FROM activities WHERE name IS NOT NULL")).all()
    for row_id, name in rows:
        cleaned = clean_text(name)
        if cleaned != name:
            bind.execute(
                sa.text("UPDATE activities SET name = :name WHERE id = :id"), {"name": cleaned, "id": row_id}
            )


def downgrade() -> None:
    op.drop_table("install_secrets")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("tombstoned_at")
