"""A delivery lease: who is posting a finished job (`delivering_by`, the process's heartbeat
owner) and when the post was confirmed (`posted_at`), so a post cut by a SIGKILL is taken over
(bot.jobs.sweep) instead of being lost.

Revision ID: 0006_delivery
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_delivery"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("delivering_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_jobs_delivering_by", ["delivering_by"], unique=False)
    # Jobs marked delivered before this were posted (or lost for good): confirmed as they are.
    op.execute("UPDATE jobs SET posted_at = delivered_at WHERE delivered_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_delivering_by")
        batch.drop_column("posted_at")
        batch.drop_column("delivering_by")
