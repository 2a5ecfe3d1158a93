"""intake's tables and the queries its handlers use.

Names, mobiles and ID numbers are stored only encrypted; lookups go through keyed blind indexes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common.tables import Timestamp

metadata = sa.MetaData()

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name_enc", sa.Text, nullable=False),
    sa.Column("masked_name", sa.String(32), nullable=False),
    sa.Column("mobile_enc", sa.Text, nullable=True),
    sa.Column("mobile_bidx", sa.String(64), nullable=True, unique=True),
    sa.Column("id_number_enc", sa.Text, nullable=True),
    sa.Column("id_number_bidx", sa.String(64), nullable=True, unique=True),
    sa.Column("city", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("address_enc", sa.Text, nullable=True),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("gender", sa.String(8), nullable=True),
    sa.Column("owner_id", sa.String(64), nullable=True, index=True),
    sa.Column("owner_team_id", sa.String(36), nullable=True, index=True),
    sa.Column("owner_changed_at", Timestamp, nullable=True),
    sa.Column("grade", sa.String(1), nullable=True),
    sa.Column("grade_changed_at", Timestamp, nullable=True),
    sa.Column("consent_at", Timestamp, nullable=True),
    sa.Column("consent_channel", sa.String(32), nullable=True),
    sa.Column("erased_at", Timestamp, nullable=True),
    sa.Column("opt_out_at", Timestamp, nullable=True),
)

customer_keys = sa.Table(
    "customer_keys",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("wrapped_key", sa.String(255), nullable=False),
    sa.Column("kek_id", sa.String(32), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

leads = sa.Table(
    "leads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), nullable=False, index=True),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("term_months", sa.Integer, nullable=False),
    sa.Column("purpose", sa.String(200), nullable=True),
    sa.Column("channel", sa.String(64), nullable=False, index=True),
    sa.Column("city", sa.String(32), nullable=False),
    sa.Column("partner_id", sa.String(36), nullable=True, index=True),
    sa.Column("submitted_by", sa.String(64), nullable=False, index=True),
    sa.Column("submitter_scope", sa.String(80), nullable=False),
    sa.Column("external_ref", sa.String(64), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("duplicate_outcome", sa.String(32), nullable=False),
    sa.Column("form", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("form_version", sa.Integer, nullable=True),
    sa.Column("submitted_at", Timestamp, nullable=True),
    sa.Column("stage", sa.String(32), nullable=True, index=True),
    sa.Column("stage_changed_at", Timestamp, nullable=True),
    sa.Column("assignee_id", sa.String(64), nullable=True, index=True),
    sa.Column("evaluation", sa.Text, nullable=True),
    sa.Column("evaluated_at", Timestamp, nullable=True),
    sa.Column("intent_level", sa.String(8), nullable=True),
    sa.UniqueConstraint("submitter_scope", "external_ref", name="uq_leads_external_ref"),
)

channels = sa.Table(
    "channels",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("partner_id", sa.String(36), nullable=True, unique=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

product_forms = sa.Table(
    "product_forms",
    metadata,
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

channel_spend = sa.Table(
    "channel_spend",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("recorded_at", Timestamp, nullable=False),
)

documents = sa.Table(
    "documents",
    metadata,
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

blacklist = sa.Table(
    "blacklist",
    metadata,
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

followups = sa.Table(
    "followups",
    metadata,
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

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), nullable=False, index=True),
    sa.Column("given_at", Timestamp, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(64), nullable=False),
    sa.Column("recorded_by", sa.String(64), nullable=False),
)

imports = sa.Table(
    "imports",
    metadata,
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
    sa.Column("key_wrapped", sa.String(255), nullable=False),
    sa.Column("kek_id", sa.String(32), nullable=False),
    sa.Column("default_channel", sa.String(64), nullable=True),
    sa.Column("default_city", sa.String(32), nullable=True),
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False, index=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("changed_at", Timestamp, nullable=False),
)

partner_quotas = sa.Table(
    "partner_quotas",
    metadata,
    sa.Column("partner_id", sa.String(36), primary_key=True),
    sa.Column("per_minute", sa.Integer, nullable=False),
)

partner_quota_usage = sa.Table(
    "partner_quota_usage",
    metadata,
    sa.Column("partner_id", sa.String(36), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("used", sa.Integer, nullable=False),
)


def customer_by_indexes(session: Session, *, id_number_bidx: str | None, mobile_bidx: str | None) -> Any:
    """The customer with this ID number, else the one with this mobile (one query)."""
    matches = [
        column == value
        for column, value in ((customers.c.id_number_bidx, id_number_bidx), (customers.c.mobile_bidx, mobile_bidx))
        if value
    ]
    if not matches:
        return None
    match = sa.or_(*matches)
    columns = (
        customers.c.id,
        customers.c.masked_name,
        customers.c.id_number_bidx,
        customers.c.mobile_bidx,
        customers.c.owner_id,
    )
    rows = session.execute(sa.select(*columns).where(match)).all()
    by_id_number = [row for row in rows if id_number_bidx is not None and row.id_number_bidx == id_number_bidx]
    return (by_id_number or rows or [None])[0]


def customer_by_id(session: Session, customer_id: str) -> Any:
    return session.execute(sa.select(customers).where(customers.c.id == customer_id)).first()


def lead_by_external_ref(session: Session, scope: str, external_ref: str) -> Any:
    return session.execute(
        sa.select(leads).where(leads.c.submitter_scope == scope, leads.c.external_ref == external_ref)
    ).first()


def staff_member(session: Session, user_id: str) -> Any:
    return session.execute(sa.select(staff).where(staff.c.user_id == user_id)).first()


def document_by_id(session: Session, document_id: str) -> Any:
    return session.execute(sa.select(documents).where(documents.c.id == document_id)).first()


def followup_by_id(session: Session, followup_id: str) -> Any:
    return session.execute(sa.select(followups).where(followups.c.id == followup_id)).first()


def lead_by_id(session: Session, lead_id: str) -> Any:
    return session.execute(sa.select(leads).where(leads.c.id == lead_id)).first()


def channel_by_code(session: Session, code: str) -> Any:
    return session.execute(sa.select(channels).where(channels.c.code == code)).first()


def channel_of_partner(session: Session, partner_id: str) -> Any:
    return session.execute(sa.select(channels).where(channels.c.partner_id == partner_id)).first()


def partner_quota(session: Session | sa.Connection, partner_id: str) -> int | None:
    row = session.execute(
        sa.select(partner_quotas.c.per_minute).where(partner_quotas.c.partner_id == partner_id)
    ).first()
    return row.per_minute if row else None


def count_quota_use(connection: sa.Connection, partner_id: str, window_start: int) -> int:
    """Add one request to a partner's window and return the window's count, in one atomic statement."""
    params = {"partner_id": partner_id, "window_start": window_start}
    if connection.dialect.name == "sqlite":
        return connection.execute(
            sa.text(
                "INSERT INTO partner_quota_usage (partner_id, window_start, used) "
                "VALUES (:partner_id, :window_start, 1) "
                "ON CONFLICT (partner_id, window_start) DO UPDATE SET used = used + 1 RETURNING used"
            ),
            params,
        ).scalar_one()
    # LAST_INSERT_ID(expr) makes the new count the statement's insert id: no second round trip.
    result = connection.execute(
        sa.text(
            "INSERT INTO partner_quota_usage (partner_id, window_start, used) "
            "VALUES (:partner_id, :window_start, LAST_INSERT_ID(1)) "
            "ON DUPLICATE KEY UPDATE used = LAST_INSERT_ID(used + 1)"
        ),
        params,
    )
    return int(result.lastrowid)


def forget_old_quota_windows(connection: sa.Connection, partner_id: str, before: int) -> None:
    connection.execute(
        partner_quota_usage.delete().where(
            partner_quota_usage.c.partner_id == partner_id, partner_quota_usage.c.window_start < before
        )
    )
