"""risk's tables and the queries its handlers use."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Session

from loanbridge.common.tables import Timestamp

metadata = sa.MetaData()

# A JDM document can outgrow MySQL's TEXT (64 KiB).
Document = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

rulesets = sa.Table(
    "rulesets",
    metadata,
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

ruleset_history = sa.Table(
    "ruleset_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product", sa.String(32), nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("at", Timestamp, nullable=False),
)

product_features = sa.Table(
    "product_features",
    metadata,
    sa.Column("product", sa.String(32), primary_key=True),
    sa.Column("form_version", sa.Integer, nullable=True),
    sa.Column("features", sa.Text, nullable=False),
    sa.Column("required_documents", sa.Text, nullable=False),
    sa.Column("changed_at", Timestamp, nullable=False),
)

evaluations = sa.Table(
    "evaluations",
    metadata,
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

evaluation_flags = sa.Table(
    "evaluation_flags",
    metadata,
    sa.Column("evaluation_id", sa.String(36), primary_key=True),
    sa.Column("flag", sa.String(40), primary_key=True, index=True),
)

leads = sa.Table(
    "leads",
    metadata,
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

customer_grades = sa.Table(
    "customer_grades",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("grade", sa.String(1), nullable=False),
    sa.Column("lead_id", sa.String(36), nullable=True),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("graded_at", Timestamp, nullable=False),
)

# Who owns each customer, as workflow's events tell it (workflow alone decides): reads of grades and evaluations are
# scoped by it. ``owner_id`` NULL is the public pool (公海). The newer event wins: by business time, then, for
# events of the same case, by its sequence (``changed_case_id``, ``changed_sequence``).
customer_owners = sa.Table(
    "customer_owners",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.String(64), nullable=True, index=True),
    sa.Column("team_id", sa.String(36), nullable=True, index=True),
    sa.Column("changed_at", Timestamp, nullable=False),
    sa.Column("changed_case_id", sa.String(36), nullable=False),
    sa.Column("changed_sequence", sa.Integer, nullable=False),
)

# Each staff member's team, as identity's events tell it: a manager keeps seeing the customers a member of their
# teams owns when the owner event named no team, or the member moved teams since.
staff = sa.Table(
    "staff",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("team_id", sa.String(36), nullable=True, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("changed_at", Timestamp, nullable=False),
    sa.Column("changed_sequence", sa.Integer, nullable=False),
)

lender_products = sa.Table(
    "lender_products",
    metadata,
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

lender_product_versions = sa.Table(
    "lender_product_versions",
    metadata,
    sa.Column("lender_product_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("terms", sa.Text, nullable=False),
    sa.Column("criteria", Document, nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)


def ruleset(session: Session, product: str, version: int, *, for_update: bool = False) -> Any:
    query = sa.select(rulesets).where(rulesets.c.product == product, rulesets.c.version == version)
    return session.execute(query.with_for_update() if for_update else query).first()


def published_ruleset(session: Session, product: str) -> Any:
    return session.execute(
        sa.select(rulesets).where(rulesets.c.product == product, rulesets.c.status == "published")
    ).first()


def latest_version(session: Session, product: str) -> int:
    found = session.execute(sa.select(sa.func.max(rulesets.c.version)).where(rulesets.c.product == product))
    return found.scalar_one_or_none() or 0


def product(session: Session, code: str) -> Any:
    return session.execute(sa.select(product_features).where(product_features.c.product == code)).first()


def lead(session: Session, lead_id: str) -> Any:
    return session.execute(sa.select(leads).where(leads.c.lead_id == lead_id)).first()


def customer_grade(session: Session, customer_id: str) -> Any:
    return session.execute(sa.select(customer_grades).where(customer_grades.c.customer_id == customer_id)).first()


def lender_product(session: Session, product_id: str) -> Any:
    return session.execute(sa.select(lender_products).where(lender_products.c.id == product_id)).first()


def customer_owner(session: Session, customer_id: str) -> Any:
    return session.execute(sa.select(customer_owners).where(customer_owners.c.customer_id == customer_id)).first()


def staff_member(session: Session, user_id: str) -> Any:
    return session.execute(sa.select(staff).where(staff.c.user_id == user_id)).first()
