"""notify's tables: templates and policies (with the defaults), the staff, team and owner projections, messages
and their delivery log, robot posts, the inbox, opt-outs, daily counts, webhooks and their deliveries.

Revision ID: notify_0001
Revises:
Create Date: 2026-12-01
"""

import json
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from loanbridge.common.tables import BigId, Timestamp

revision = "notify_0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULTS = Path(__file__).resolve().parents[1] / "data" / "defaults_v1.json"
SEEDED_AT = datetime(2026, 1, 1)


def upgrade() -> None:
    op.create_table(
        "customer_daily_counts",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "day"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider_code", sa.String(length=64), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("masked_recipient", sa.String(length=64), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=True),
        sa.Column("digest_of", sa.Integer(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_deliveries_at"), "deliveries", ["at"], unique=False)
    op.create_index(op.f("ix_deliveries_message_id"), "deliveries", ["message_id"], unique=False)
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("read_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_inbox_items_user", "inbox_items", ["user_id", "created_at"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("cancel_key", sa.String(length=160), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", Timestamp, nullable=False),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("recipient_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    op.create_index(op.f("ix_messages_cancel_key"), "messages", ["cancel_key"], unique=False)
    op.create_index("ix_messages_due", "messages", ["status", "due_at"], unique=False)
    op.create_index(op.f("ix_messages_event_id"), "messages", ["event_id"], unique=False)
    op.create_index(op.f("ix_messages_recipient_hash"), "messages", ["recipient_hash"], unique=False)
    op.create_table(
        "opt_outs",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "owners",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("assignee_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column("changed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "policies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("timing", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_policies_event_type"), "policies", ["event_type"], unique=False)
    op.create_table(
        "robot_posts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("robot", sa.String(length=32), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_robot_posts_robot_at", "robot_posts", ["robot", "at"], unique=False)
    op.create_table(
        "staff",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("team_id"),
    )
    op.create_table(
        "templates",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("marketing", sa.Boolean(), nullable=False),
        sa.Column("sms_template_code", sa.String(length=64), nullable=True),
        sa.Column("sms_params", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=True),
        sa.Column("lease_until", Timestamp, nullable=True),
        sa.Column("retry_until", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("delivered_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_webhook_deliveries_webhook_id"), "webhook_deliveries", ["webhook_id"], unique=False)
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=300), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _seed_defaults()


def _seed_defaults() -> None:
    defaults = json.loads(DEFAULTS.read_text(encoding="utf-8"))
    templates = sa.table(
        "templates",
        *(sa.column(name) for name in ("code", "title", "body", "marketing", "sms_template_code", "sms_params")),
        *(sa.column(name) for name in ("version", "updated_by", "updated_at")),
    )
    policies = sa.table(
        "policies",
        *(sa.column(name) for name in ("id", "event_type", "condition", "recipients", "channels", "template")),
        *(sa.column(name) for name in ("timing", "active", "version", "updated_by", "updated_at")),
    )
    seeded = {"version": 1, "updated_by": "system", "updated_at": SEEDED_AT}
    op.bulk_insert(
        templates,
        [
            {
                "code": item["code"],
                "title": item["title"],
                "body": item["body"],
                "marketing": item["marketing"],
                "sms_template_code": item.get("sms_template_code"),
                "sms_params": json.dumps(item.get("sms_params") or {}, ensure_ascii=False, sort_keys=True),
                **seeded,
            }
            for item in defaults["templates"]
        ],
    )
    op.bulk_insert(
        policies,
        [
            {
                "id": item["id"],
                "event_type": item["event_type"],
                "template": item["template"],
                "active": True,
                **{
                    name: json.dumps(item[name], ensure_ascii=False, sort_keys=True)
                    for name in ("condition", "recipients", "channels", "timing")
                },
                **seeded,
            }
            for item in defaults["policies"]
        ],
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)


TABLES = [
    "customer_daily_counts",
    "deliveries",
    "inbox_items",
    "messages",
    "opt_outs",
    "owners",
    "policies",
    "robot_posts",
    "staff",
    "teams",
    "templates",
    "webhook_attempts",
    "webhook_deliveries",
    "webhooks",
]
