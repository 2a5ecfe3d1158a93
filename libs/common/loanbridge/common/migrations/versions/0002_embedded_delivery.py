"""The embedded mode's delivery rows: per-producer cursors, delayed retries, dead letters.

Revision ID: common_0002
Revises: common_0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import BigId, Timestamp

revision = "common_0002"
down_revision = "common_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dispatch_cursors",
        sa.Column("producer", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "dispatch_retries",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("not_yet", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False, index=True),
        sa.Column("last_error", sa.String(200), nullable=True),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, index=True),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("error", sa.String(200), nullable=False),
        sa.Column("failed_at", Timestamp, nullable=False),
        sa.Column("replayed_at", Timestamp, nullable=True),
    )


def downgrade() -> None:
    for table in ("dead_letters", "dispatch_retries", "dispatch_cursors"):
        op.drop_table(table)
