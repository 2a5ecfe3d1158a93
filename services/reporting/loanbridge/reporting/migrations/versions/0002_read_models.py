"""The read models of the KPIs: lead facts with their owner, stage and funnel milestones, risk evaluations,
lender submissions, loans, stage visits (these four with a copy of their lead's filter columns), follow-ups,
tasks, channel spend, staff and teams.

lead_facts is created anew: read models hold nothing the archive does not, so ``loanbridge rebuild reporting``
fills them again after this upgrade.

Revision ID: reporting_0002
Revises: reporting_0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("lead_facts")
    op.create_table(
        "lead_facts",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("product", sa.String(32), nullable=True),
        sa.Column("city", sa.String(32), nullable=True),
        sa.Column("partner_id", sa.String(36), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("business_day", sa.Date, nullable=True),
        sa.Column("occurred_at", Timestamp, nullable=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("owner_sequence", sa.BigInteger, nullable=True),
        sa.Column("stage", sa.String(32), nullable=True),
        sa.Column("stage_sequence", sa.BigInteger, nullable=True),
        sa.Column("submitted_at", Timestamp, nullable=True),
        sa.Column("risk_approved_at", Timestamp, nullable=True),
        sa.Column("lender_submitted_at", Timestamp, nullable=True),
        sa.Column("lender_approved_at", Timestamp, nullable=True),
        sa.Column("disbursed_at", Timestamp, nullable=True),
        sa.Column("contract_at", Timestamp, nullable=True),
        sa.Column("recycled_at", Timestamp, nullable=True),
    )
    op.create_index("ix_lead_facts_day_channel_product", "lead_facts", ["business_day", "channel", "product"])
    op.create_index("ix_lead_facts_team_day", "lead_facts", ["team_id", "business_day"])
    op.create_index("ix_lead_facts_owner_day", "lead_facts", ["owner_id", "business_day"])
    op.create_table(
        "risk_evaluations",
        sa.Column("evaluation_id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("evaluated_product", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("evaluated_at", Timestamp, nullable=False),
        sa.Column("business_day", sa.Date, nullable=False),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("product", sa.String(32), nullable=True),
        sa.Column("city", sa.String(32), nullable=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_risk_evaluations_day_channel_product", "risk_evaluations", ["business_day", "channel", "product"]
    )
    op.create_table(
        "lender_submissions",
        sa.Column("submission_id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("lender", sa.String(64), nullable=False),
        sa.Column("lender_product", sa.String(64), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("submitted_at", Timestamp, nullable=True),
        sa.Column("business_day", sa.Date, nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("approved_amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("decided_at", Timestamp, nullable=True),
        sa.Column("decided_day", sa.Date, nullable=True, index=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("product", sa.String(32), nullable=True),
        sa.Column("city", sa.String(32), nullable=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_lender_submissions_day_channel_product", "lender_submissions", ["business_day", "channel", "product"]
    )
    op.create_table(
        "loan_facts",
        sa.Column("loan_id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("lender", sa.String(64), nullable=True),
        sa.Column("principal", sa.Numeric(14, 2), nullable=True),
        sa.Column("commission", sa.Numeric(14, 2), nullable=True),
        sa.Column("disbursed_at", Timestamp, nullable=True),
        sa.Column("business_day", sa.Date, nullable=True),
        sa.Column("vintage", sa.String(7), nullable=True),
        sa.Column("worst_days_past_due", sa.Integer, nullable=True),
        sa.Column("worst_sequence", sa.BigInteger, nullable=True),
        sa.Column("worst_outstanding", sa.Numeric(14, 2), nullable=True),
        sa.Column("settled_at", Timestamp, nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("product", sa.String(32), nullable=True),
        sa.Column("city", sa.String(32), nullable=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_loan_facts_day_channel_product", "loan_facts", ["business_day", "channel", "product"])
    op.create_table(
        "stage_visits",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("from_stage", sa.String(32), nullable=False),
        sa.Column("entered_at", Timestamp, nullable=False),
        sa.Column("left_at", Timestamp, nullable=True),
        sa.Column("left_day", sa.Date, nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("product", sa.String(32), nullable=True),
        sa.Column("city", sa.String(32), nullable=True),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("owner_id", sa.String(64), nullable=True),
        sa.Column("submitted_by", sa.String(64), nullable=True),
    )
    op.create_index("ix_stage_visits_left_day_channel_product", "stage_visits", ["left_day", "channel", "product"])
    op.create_table(
        "followups",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("sequence", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("logged_at", Timestamp, nullable=False),
        sa.Column("business_day", sa.Date, nullable=False, index=True),
    )
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("assignee_id", sa.String(64), nullable=True),
        sa.Column("created_at", Timestamp, nullable=True),
        sa.Column("business_day", sa.Date, nullable=True, index=True),
        sa.Column("overdue_at", Timestamp, nullable=True),
        sa.Column("completed_at", Timestamp, nullable=True),
    )
    op.create_table(
        "channel_spend",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "staff",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("team_id", sa.String(36), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("manager_id", sa.String(64), nullable=True),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("teams", "staff", "channel_spend", "tasks", "followups", "stage_visits", "loan_facts"):
        op.drop_table(table)
    op.drop_table("lender_submissions")
    op.drop_table("risk_evaluations")
    op.drop_table("lead_facts")
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
