"""Rule sets (with the default ones for house, credit and car, published), their history, evaluations, grades
and the lenders' product catalogue.

Revision ID: risk_0001
Revises:
Create Date: 2026-12-01
"""

import json
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from loanbridge.common.tables import Timestamp

revision = "risk_0001"
down_revision = None
branch_labels = None
depends_on = None

Document = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
DEFAULTS = Path(__file__).resolve().parents[1] / "data" / "default_rulesets_v1.json"
SEEDED_AT = datetime(2026, 1, 1)
# The engine the default rule sets were written and checked with.
DEFAULTS_ENGINE = "zen-engine 2.1.3"


def upgrade() -> None:
    op.create_table(
        "rulesets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model", Document, nullable=False),
        sa.Column("engine_version", sa.String(40), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=True),
        sa.Column("approved_at", Timestamp, nullable=True),
        sa.Column("published_by", sa.String(64), nullable=True),
        sa.Column("published_at", Timestamp, nullable=True),
        sa.UniqueConstraint("product", "version", name="uq_rulesets_product_version"),
    )
    op.create_table(
        "ruleset_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product", sa.String(32), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("at", Timestamp, nullable=False),
    )
    op.create_table(
        "product_features",
        sa.Column("product", sa.String(32), primary_key=True),
        sa.Column("form_version", sa.Integer, nullable=True),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("required_documents", sa.Text, nullable=False),
        sa.Column("changed_at", Timestamp, nullable=False),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("lead_id", sa.String(36), nullable=False, index=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("ruleset_version", sa.Integer, nullable=True),
        sa.Column("engine_version", sa.String(40), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False, index=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("grade", sa.String(1), nullable=True),
        sa.Column("route_to", sa.String(32), nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outcome", Document, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False, index=True),
    )
    op.create_table(
        "evaluation_flags",
        sa.Column("evaluation_id", sa.String(36), primary_key=True),
        sa.Column("flag", sa.String(40), primary_key=True, index=True),
    )
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(36), primary_key=True),
        sa.Column("customer_id", sa.String(36), nullable=False, index=True),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("term_months", sa.Integer, nullable=True),
        sa.Column("channel", sa.String(64), nullable=True),
        sa.Column("city", sa.String(32), nullable=True),
        sa.Column("features", sa.Text, nullable=False),
        sa.Column("intent_level", sa.String(1), nullable=True),
        sa.Column("changed_at", Timestamp, nullable=False),
    )
    op.create_table(
        "customer_grades",
        sa.Column("customer_id", sa.String(36), primary_key=True),
        sa.Column("grade", sa.String(1), nullable=False),
        sa.Column("lead_id", sa.String(36), nullable=True),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("graded_at", Timestamp, nullable=False),
    )
    op.create_table(
        "lender_products",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("lender", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("criteria", Document, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "lender_product_versions",
        sa.Column("lender_product_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("criteria", Document, nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    seed_default_rulesets()


def seed_default_rulesets() -> None:
    columns = (
        "id",
        "product",
        "version",
        "status",
        "model",
        "engine_version",
        "note",
        "created_by",
        "created_at",
        "approved_by",
        "approved_at",
        "published_by",
        "published_at",
    )
    rulesets = sa.table("rulesets", *(sa.column(name) for name in columns))
    history = sa.table(
        "ruleset_history", *(sa.column(n) for n in ("product", "version", "action", "actor", "note", "at"))
    )
    defaults = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    op.bulk_insert(
        rulesets,
        [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"loanbridge:risk:ruleset:{product}:1")),
                "product": product,
                "version": 1,
                "status": "published",
                "model": json.dumps(model, ensure_ascii=False, separators=(",", ":")),
                "engine_version": DEFAULTS_ENGINE,
                "note": "默认规则集",
                "created_by": "system",
                "created_at": SEEDED_AT,
                "approved_by": "system",
                "approved_at": SEEDED_AT,
                "published_by": "system",
                "published_at": SEEDED_AT,
            }
            for product, model in defaults.items()
        ],
    )
    op.bulk_insert(
        history,
        [
            {
                "product": product,
                "version": 1,
                "action": "published",
                "actor": "system",
                "note": "默认规则集",
                "at": SEEDED_AT,
            }
            for product in defaults
        ],
    )


def downgrade() -> None:
    for name in [
        "lender_product_versions",
        "lender_products",
        "customer_grades",
        "leads",
        "evaluation_flags",
        "evaluations",
        "product_features",
        "ruleset_history",
        "rulesets",
    ]:
        op.drop_table(name)
