"""Projections of workflow's owners and identity's staff teams, to scope reads of grades and evaluations.

Revision ID: risk_0002
Revises: risk_0001
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "risk_0002"
down_revision = "risk_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_owners",
        sa.Column("customer_id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=True, index=True),
        sa.Column("team_id", sa.String(36), nullable=True, index=True),
        sa.Column("changed_at", Timestamp, nullable=False),
        sa.Column("changed_case_id", sa.String(36), nullable=False),
        sa.Column("changed_sequence", sa.Integer, nullable=False),
    )
    op.create_table(
        "staff",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("team_id", sa.String(36), nullable=True, index=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("changed_at", Timestamp, nullable=False),
        sa.Column("changed_sequence", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff")
    op.drop_table("customer_owners")
