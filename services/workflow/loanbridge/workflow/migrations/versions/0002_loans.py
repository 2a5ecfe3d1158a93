"""Loans after disbursement: the loan, its repayment schedule and the repayments recorded against it.

Revision ID: workflow_0002
Revises: workflow_0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "workflow_0002"
down_revision = "workflow_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loans",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("lender", sa.String(100), nullable=False),
        sa.Column("lender_product", sa.String(100), nullable=False),
        sa.Column("principal", sa.Numeric(14, 2), nullable=False),
        sa.Column("annual_rate", sa.Numeric(8, 6), nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("commission", sa.Numeric(14, 2), nullable=False),
        sa.Column("method", sa.String(24), nullable=False),
        sa.Column("disbursed_at", Timestamp, nullable=False),
        sa.Column("disbursed_by", sa.String(64), nullable=False),
        sa.Column("settled_at", Timestamp, nullable=True),
    )
    op.create_table(
        "installments",
        sa.Column("loan_id", sa.String(36), primary_key=True),
        sa.Column("installment", sa.Integer, primary_key=True),
        sa.Column("due_date", sa.Date, nullable=False, index=True),
        sa.Column("principal", sa.Numeric(14, 2), nullable=False),
        sa.Column("interest", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_at", Timestamp, nullable=True),
        sa.Column("overdue_checked_on", sa.Date, nullable=True),
    )
    op.create_table(
        "repayments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("loan_id", sa.String(36), nullable=False, index=True),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("installment", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_at", Timestamp, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.UniqueConstraint("loan_id", "reference", name="uq_repayments_reference"),
    )


def downgrade() -> None:
    for table in ("repayments", "installments", "loans"):
        op.drop_table(table)
