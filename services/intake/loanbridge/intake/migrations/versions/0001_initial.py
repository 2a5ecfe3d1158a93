"""Customers, leads, channels (with the default ones) and partner quotas.

Revision ID: intake_0001
Revises:
Create Date: 2026-11-28
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import Timestamp

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_CHANNELS = [
    ("douyin", "抖音", "advertising"),
    ("baidu", "百度", "advertising"),
    ("tongcheng58", "58同城", "advertising"),
    ("ground", "地推", "offline"),
    ("referral", "转介绍", "referral"),
]


def upgrade() -> None:
    op.create_table(
        "customers",
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
    )
    op.create_table(
        "leads",
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
        sa.UniqueConstraint("submitter_scope", "external_ref", name="uq_leads_external_ref"),
    )
    channels = op.create_table(
        "channels",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("partner_id", sa.String(36), nullable=True, unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.bulk_insert(
        channels,
        [
            {
                "code": code,
                "name": name,
                "kind": kind,
                "partner_id": None,
                "active": True,
                "created_at": datetime(2026, 1, 1),
            }
            for code, name, kind in DEFAULT_CHANNELS
        ],
    )
    op.create_table(
        "partner_quotas",
        sa.Column("partner_id", sa.String(36), primary_key=True),
        sa.Column("per_minute", sa.Integer, nullable=False),
    )
    op.create_table(
        "partner_quota_usage",
        sa.Column("partner_id", sa.String(36), primary_key=True),
        sa.Column("window_start", sa.BigInteger, primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("partner_quota_usage", "partner_quotas", "channels", "leads", "customers"):
        op.drop_table(table)
