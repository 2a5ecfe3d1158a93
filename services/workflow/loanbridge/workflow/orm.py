"""workflow's tables: staff and teams (from identity), owners of customers, process definitions, cases and their
history, assignment rules, tasks (which are also the timers), lender submissions."""

from __future__ import annotations

import sqlalchemy as sa

from loanbridge.common.tables import BigId, Timestamp

metadata = sa.MetaData()

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("team_id", sa.String(36), nullable=True, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("cap", sa.Integer, nullable=True),
    sa.Column("sequence", sa.Integer, nullable=False),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("team_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("manager_id", sa.String(64), nullable=True),
    sa.Column("region", sa.String(32), nullable=True),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("last_assigned_user_id", sa.String(64), nullable=True),
)

owners = sa.Table(
    "owners",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=True, index=True),
    sa.Column("team_id", sa.String(36), nullable=True, index=True),
    sa.Column("owned_since", Timestamp, nullable=True),
    sa.Column("last_contact_at", Timestamp, nullable=True),
    sa.Column("recycle_due_at", Timestamp, nullable=True, index=True),
    sa.Column("grade", sa.String(1), nullable=True),
    sa.Column("grade_at", Timestamp, nullable=True),
    sa.Column("released_by", sa.String(64), nullable=True),
    sa.Column("released_at", Timestamp, nullable=True),
    sa.Column("pool_reason", sa.String(200), nullable=True),
)

processes = sa.Table(
    "processes",
    metadata,
    sa.Column("product", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("published_by", sa.String(64), nullable=True),
    sa.Column("published_at", Timestamp, nullable=True),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), nullable=False, index=True),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("term_months", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("city", sa.String(32), nullable=False),
    sa.Column("partner_id", sa.String(36), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=False, index=True),
    sa.Column("process_version", sa.Integer, nullable=False),
    sa.Column("stage", sa.String(32), nullable=False, index=True),
    sa.Column("stage_entered_at", Timestamp, nullable=False),
    sa.Column("assignee_id", sa.String(64), nullable=True, index=True),
    sa.Column("team_id", sa.String(36), nullable=True, index=True),
    sa.Column("documents", sa.Text, nullable=False),
    sa.Column("lender_decision", sa.String(16), nullable=True),
    sa.Column("evaluated_at", Timestamp, nullable=True),
    sa.Column("submitted_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("closed_at", Timestamp, nullable=True),
)

case_history = sa.Table(
    "case_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("from_value", sa.String(64), nullable=True),
    sa.Column("to_value", sa.String(64), nullable=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("details", sa.Text, nullable=True),
)

assignment_rules = sa.Table(
    "assignment_rules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("condition", sa.Text, nullable=False),
    sa.Column("strategy", sa.String(16), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), nullable=False, index=True),
    sa.Column("customer_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("assignee_id", sa.String(64), nullable=True, index=True),
    sa.Column("assignee_role", sa.String(32), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due_at", Timestamp, nullable=True),
    sa.Column("remind_at", Timestamp, nullable=True),
    sa.Column("escalate_to", sa.String(32), nullable=True),
    sa.Column("overdue_at", Timestamp, nullable=True),
    sa.Column("escalated_to", sa.String(64), nullable=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("completed_at", Timestamp, nullable=True),
    sa.Column("reminded_at", Timestamp, nullable=True),
    sa.Index("ix_tasks_due", "status", "overdue_at", "due_at"),
    sa.Index("ix_tasks_remind", "status", "reminded_at", "remind_at"),
)

lender_submissions = sa.Table(
    "lender_submissions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), nullable=False, index=True),
    sa.Column("lender", sa.String(100), nullable=False),
    sa.Column("lender_product", sa.String(100), nullable=False),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("submitted_by", sa.String(64), nullable=False),
    sa.Column("submitted_at", Timestamp, nullable=False),
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("approved_amount", sa.Numeric(14, 2), nullable=True),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
    sa.Column("decided_at", Timestamp, nullable=True),
)

loans = sa.Table(
    "loans",
    metadata,
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

installments = sa.Table(
    "installments",
    metadata,
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

repayments = sa.Table(
    "repayments",
    metadata,
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

calendar_overrides = sa.Table(
    "calendar_overrides",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("working", sa.Boolean, nullable=False),
    sa.Column("note", sa.String(100), nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)
