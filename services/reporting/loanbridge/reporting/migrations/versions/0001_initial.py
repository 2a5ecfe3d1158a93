"""The event archive and the lead facts.

Revision ID: reporting_0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "reporting_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_archive",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(120), nullable=False, index=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False, index=True),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
    )
    op.create_table(
        "lead_facts",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("city", sa.String(32), nullable=False),
        sa.Column("partner_id", sa.String(36), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("business_day", sa.Date, nullable=False),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_lead_facts_day_channel_product", "lead_facts", ["business_day", "channel", "product"])


def downgrade() -> None:
    op.drop_table("lead_facts")
    op.drop_table("event_archive")
