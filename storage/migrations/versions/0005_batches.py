"""A batch (n=2..4) is one version: several images per version number, one of them chosen.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table to change its unique constraint.
    with op.batch_alter_table("thread_versions") as batch:
        batch.drop_constraint("uq_thread_versions_thread_id_version", type_="unique")
        batch.create_unique_constraint(
            "uq_thread_versions_thread_id_version_position", ["thread_id", "version", "position"]
        )
        # Versions written before this were one image each: every one of them is chosen.
        batch.add_column(
            sa.Column("chosen", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("author", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("thread_versions") as batch:
        batch.drop_column("author")
        batch.drop_column("chosen")
        batch.drop_constraint("uq_thread_versions_thread_id_version_position", type_="unique")
        batch.create_unique_constraint(
            "uq_thread_versions_thread_id_version", ["thread_id", "version"]
        )
