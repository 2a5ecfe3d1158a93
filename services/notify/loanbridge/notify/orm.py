"""notify's tables and the queries its handlers use.

No customer's mobile, name or ID number is stored here: messages keep ids and the render context (ids, amounts,
dates), deliveries keep the template, a masked recipient and a sha256 of the body. A customer's mobile is kept only
as a keyed hash (to match an SMS reply to the customer it was sent to).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common.tables import BigId, Timestamp

metadata = sa.MetaData()

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("marketing", sa.Boolean, nullable=False),
    sa.Column("sms_template_code", sa.String(64), nullable=True),
    sa.Column("sms_params", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(120), nullable=False, index=True),
    sa.Column("condition", sa.Text, nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),
    sa.Column("channels", sa.Text, nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("timing", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("team_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("manager_id", sa.String(64), nullable=True),
    sa.Column("sequence", sa.BigInteger, nullable=False),
)

owners = sa.Table(
    "owners",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("assignee_id", sa.String(64), nullable=False),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("changed_at", Timestamp, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # One message per (event, recipient, channel): a redelivered event or two policies naming the same person
    # on the same channel insert nothing the second time.
    sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
    sa.Column("event_id", sa.String(36), nullable=False, index=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("policy_id", sa.String(64), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient_kind", sa.String(16), nullable=False),
    sa.Column("recipient_id", sa.String(64), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("marketing", sa.Boolean, nullable=False),
    sa.Column("cancel_key", sa.String(160), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due_at", Timestamp, nullable=False),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.String(64), nullable=True),
    sa.Column("recipient_hash", sa.String(64), nullable=True, index=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp, nullable=True),
    sa.Index("ix_messages_due", "status", "due_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(36), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("provider_code", sa.String(64), nullable=True),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("masked_recipient", sa.String(64), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=True),
    sa.Column("digest_of", sa.Integer, nullable=False),
    sa.Column("at", Timestamp, nullable=False, index=True),
)

robot_posts = sa.Table(
    "robot_posts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("robot", sa.String(32), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    sa.Index("ix_robot_posts_robot_at", "robot", "at"),
)

inbox_items = sa.Table(
    "inbox_items",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=False, unique=True),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("read_at", Timestamp, nullable=True),
    sa.Index("ix_inbox_items_user", "user_id", "created_at"),
)

opt_outs = sa.Table(
    "opt_outs",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
)

customer_daily_counts = sa.Table(
    "customer_daily_counts",
    metadata,
    sa.Column("customer_id", sa.String(36), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("sent", sa.Integer, nullable=False),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("secret", sa.String(300), nullable=False),
    sa.Column("event_types", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("webhook_id", sa.String(36), nullable=False, index=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("retry_until", Timestamp, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(36), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.String(64), nullable=True),
    sa.Column("at", Timestamp, nullable=False),
)


INSERT_IGNORE = {"mysql": "IGNORE", "mariadb": "IGNORE", "sqlite": "OR IGNORE"}


def insert_ignore(table: sa.Table) -> Any:
    """An INSERT that skips rows whose unique key exists (a redelivery, a second policy for the same person)."""
    statement = table.insert()
    for dialect, prefix in INSERT_IGNORE.items():
        statement = statement.prefix_with(prefix, dialect=dialect)
    return statement


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def active_policies(session: Session) -> dict[str, list[Any]]:
    """The active policies by the event type they react to."""
    found: dict[str, list[Any]] = {}
    for policy in session.execute(sa.select(policies).where(policies.c.active.is_(True)).order_by(policies.c.id)):
        found.setdefault(policy.event_type, []).append(policy)
    return found


def template(session: Session, code: str) -> Any:
    return session.execute(sa.select(templates).where(templates.c.code == code)).first()


def staff_member(session: Session, user_id: str) -> Any:
    return session.execute(sa.select(staff).where(staff.c.user_id == user_id)).first()


def staff_with_role(session: Session, role: str) -> list[str]:
    rows = session.execute(sa.select(staff.c.user_id, staff.c.roles).where(staff.c.active.is_(True)))
    return sorted(row.user_id for row in rows if role in json.loads(row.roles))


def manager_of(session: Session, user_id: str) -> str | None:
    member = staff_member(session, user_id)
    if member is None or member.team_id is None:
        return None
    return session.execute(sa.select(teams.c.manager_id).where(teams.c.team_id == member.team_id)).scalar()


def owner_of(session: Session, customer_id: str) -> str | None:
    return session.execute(sa.select(owners.c.assignee_id).where(owners.c.customer_id == customer_id)).scalar()


def is_opted_out(session: Session, customer_id: str) -> bool:
    found = session.execute(sa.select(opt_outs.c.customer_id).where(opt_outs.c.customer_id == customer_id))
    return found.first() is not None


def robot_posts_since(session: Session, robot: str, since: datetime) -> list[datetime]:
    return list(
        session.execute(
            sa.select(robot_posts.c.at)
            .where(robot_posts.c.robot == robot, robot_posts.c.at > since)
            .order_by(robot_posts.c.at)
        ).scalars()
    )
