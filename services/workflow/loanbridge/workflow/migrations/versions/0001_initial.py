"""Staff and teams, owners, process definitions (the default lifecycle for house, credit and car), cases and their
history, assignment rules, tasks and lender submissions.

Revision ID: workflow_0001
Revises:
Create Date: 2026-12-01
"""

import json
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import BigId, Timestamp

revision = "workflow_0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_PROCESS = Path(__file__).resolve().parents[1] / "data" / "default_process_v1.json"
DEFAULT_PRODUCTS = ("house", "credit", "car")


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("team_id", sa.String(36), nullable=True, index=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("cap", sa.Integer, nullable=True),
        sa.Column("sequence", sa.Integer, nullable=False),
    )

    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("manager_id", sa.String(64), nullable=True),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("last_assigned_user_id", sa.String(64), nullable=True),
    )

    op.create_table(
        "owners",
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

    op.create_table(
        "processes",
        sa.Column("product", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=True),
        sa.Column("published_at", Timestamp, nullable=True),
    )

    op.create_table(
        "cases",
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

    op.create_table(
        "case_history",
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

    op.create_table(
        "assignment_rules",
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

    op.create_table(
        "tasks",
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
        sa.Index("ix_tasks_due", "status", "overdue_at", "due_at"),
    )

    op.create_table(
        "lender_submissions",
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
    definition = json.dumps(json.loads(DEFAULT_PROCESS.read_text(encoding="utf-8")), ensure_ascii=False)
    processes = sa.table(
        "processes",
        *(
            sa.column(name)
            for name in (
                "product",
                "version",
                "status",
                "definition",
                "created_by",
                "created_at",
                "published_by",
                "published_at",
            )
        ),
    )
    seeded = datetime(2026, 1, 1)
    op.bulk_insert(
        processes,
        [
            {
                "product": product,
                "version": 1,
                "status": "published",
                "definition": definition,
                "created_by": "system",
                "created_at": seeded,
                "published_by": "system",
                "published_at": seeded,
            }
            for product in DEFAULT_PRODUCTS
        ],
    )


def downgrade() -> None:
    for table in (
        "lender_submissions",
        "tasks",
        "assignment_rules",
        "case_history",
        "cases",
        "processes",
        "owners",
        "teams",
        "staff",
    ):
        op.drop_table(table)
