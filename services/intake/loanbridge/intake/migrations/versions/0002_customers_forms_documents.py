"""Customers' own keys and derived facts, products and their forms (with the three default products), channel
spend, documents, the blacklist, follow-ups, consents and imports; projections of workflow's and risk's events
onto customers and leads.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-28
"""

import json
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None

# The default products and their first forms, as they were at this revision.
DEFAULTS = Path(__file__).resolve().parents[1] / "data" / "default_products_v1.json"
SEEDED_AT = datetime(2026, 1, 1)


def upgrade() -> None:
    with op.batch_alter_table("customers") as customers:
        customers.add_column(sa.Column("address_enc", sa.Text, nullable=True))
        customers.add_column(sa.Column("birth_date", sa.Date, nullable=True))
        customers.add_column(sa.Column("gender", sa.String(8), nullable=True))
        customers.add_column(sa.Column("owner_id", sa.String(64), nullable=True))
        customers.add_column(sa.Column("owner_team_id", sa.String(36), nullable=True))
        customers.add_column(sa.Column("owner_changed_at", Timestamp, nullable=True))
        customers.add_column(sa.Column("grade", sa.String(1), nullable=True))
        customers.add_column(sa.Column("grade_changed_at", Timestamp, nullable=True))
        customers.add_column(sa.Column("consent_at", Timestamp, nullable=True))
        customers.add_column(sa.Column("consent_channel", sa.String(32), nullable=True))
        customers.add_column(sa.Column("erased_at", Timestamp, nullable=True))
        customers.create_index("ix_customers_owner_id", ["owner_id"])
        customers.create_index("ix_customers_owner_team_id", ["owner_team_id"])
    with op.batch_alter_table("leads") as leads:
        leads.add_column(sa.Column("form_version", sa.Integer, nullable=True))
        leads.add_column(sa.Column("submitted_at", Timestamp, nullable=True))
        leads.add_column(sa.Column("stage", sa.String(32), nullable=True))
        leads.add_column(sa.Column("stage_changed_at", Timestamp, nullable=True))
        leads.add_column(sa.Column("assignee_id", sa.String(64), nullable=True))
        leads.add_column(sa.Column("evaluation", sa.Text, nullable=True))
        leads.add_column(sa.Column("evaluated_at", Timestamp, nullable=True))
        leads.add_column(sa.Column("intent_level", sa.String(8), nullable=True))
        leads.create_index("ix_leads_stage", ["stage"])
        leads.create_index("ix_leads_assignee_id", ["assignee_id"])
    op.create_table(
        "customer_keys",
        sa.Column("customer_id", sa.String(36), primary_key=True),
        sa.Column("wrapped_key", sa.String(255), nullable=False),
        sa.Column("kek_id", sa.String(32), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "products",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "product_forms",
        sa.Column("product", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=True),
        sa.Column("published_at", Timestamp, nullable=True),
    )
    op.create_table(
        "channel_spend",
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("doc_type", sa.String(32), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", Timestamp, nullable=False),
        sa.Column("erased_at", Timestamp, nullable=True),
    )
    op.create_table(
        "blacklist",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("id_number_bidx", sa.String(64), nullable=True, index=True),
        sa.Column("mobile_bidx", sa.String(64), nullable=True, index=True),
        sa.Column("masked", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_at", Timestamp, nullable=False),
        sa.Column("removed_by", sa.String(64), nullable=True),
        sa.Column("removed_at", Timestamp, nullable=True),
    )
    op.create_table(
        "followups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("intent_level", sa.String(8), nullable=True),
        sa.Column("note_enc", sa.Text, nullable=True),
        sa.Column("contacted_at", Timestamp, nullable=False),
        sa.Column("next_followup_at", Timestamp, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("given_at", Timestamp, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("report_key", sa.String(200), nullable=True),
        sa.Column("rows_total", sa.Integer, nullable=False),
        sa.Column("rows_new", sa.Integer, nullable=False),
        sa.Column("rows_linked", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
        sa.Column("rows_done", sa.Integer, nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("expires_at", Timestamp, nullable=False, index=True),
    )
    seed_default_products()


def seed_default_products() -> None:
    products = sa.table("products", sa.column("code"), sa.column("name"), sa.column("active"), sa.column("created_at"))
    forms = sa.table(
        "product_forms",
        sa.column("product"),
        sa.column("version"),
        sa.column("status"),
        sa.column("definition"),
        sa.column("note"),
        sa.column("created_by"),
        sa.column("created_at"),
        sa.column("published_by"),
        sa.column("published_at"),
    )
    defaults = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    op.bulk_insert(
        products,
        [
            {"code": code, "name": spec["name"], "active": True, "created_at": SEEDED_AT}
            for code, spec in defaults.items()
        ],
    )
    op.bulk_insert(
        forms,
        [
            {
                "product": code,
                "version": 1,
                "status": "published",
                "definition": json.dumps(spec["form"], ensure_ascii=False),
                "note": "默认申请表",
                "created_by": "system",
                "created_at": SEEDED_AT,
                "published_by": "system",
                "published_at": SEEDED_AT,
            }
            for code, spec in defaults.items()
        ],
    )


def downgrade() -> None:
    for table in reversed(
        [
            "customer_keys",
            "products",
            "product_forms",
            "channel_spend",
            "documents",
            "blacklist",
            "followups",
            "consents",
            "imports",
        ]
    ):
        op.drop_table(table)
    with op.batch_alter_table("leads") as leads:
        leads.drop_index("ix_leads_assignee_id")
        leads.drop_index("ix_leads_stage")
        for column in (
            "intent_level",
            "evaluated_at",
            "evaluation",
            "assignee_id",
            "stage_changed_at",
            "stage",
            "submitted_at",
            "form_version",
        ):
            leads.drop_column(column)
    with op.batch_alter_table("customers") as customers:
        customers.drop_index("ix_customers_owner_team_id")
        customers.drop_index("ix_customers_owner_id")
        for column in (
            "erased_at",
            "consent_channel",
            "consent_at",
            "grade_changed_at",
            "grade",
            "owner_changed_at",
            "owner_team_id",
            "owner_id",
            "gender",
            "birth_date",
            "address_enc",
        ):
            customers.drop_column(column)
