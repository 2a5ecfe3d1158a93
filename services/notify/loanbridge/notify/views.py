"""Read-side queries for the GET endpoints: the inbox, messages and their delivery log."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import NotFound
from loanbridge.common.uow import UnitOfWork
from loanbridge.notify import orm


def _at(value: Any) -> Any:
    return clock.as_utc(value) if value is not None else None


def inbox(uow: UnitOfWork, *, user_id: str, unread: bool | None, limit: int) -> dict[str, Any]:
    """The caller's inbox, newest first, with the unread count."""
    items = orm.inbox_items
    query = sa.select(items).where(items.c.user_id == user_id)
    if unread:
        query = query.where(items.c.read_at.is_(None))
    rows = uow.session.execute(query.order_by(items.c.created_at.desc(), items.c.id).limit(limit))
    unread_count = uow.session.execute(
        sa.select(sa.func.count()).where(items.c.user_id == user_id, items.c.read_at.is_(None))
    ).scalar_one()
    return {
        "items": [
            {
                "id": row.id,
                "template": row.template,
                "title": row.title,
                "body": row.body,
                "subject_id": row.subject_id,
                "created_at": _at(row.created_at),
                "read": row.read_at is not None,
                "read_at": _at(row.read_at),
            }
            for row in rows
        ],
        "unread": unread_count,
    }


def _message(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_type": row.event_type,
        "policy_id": row.policy_id,
        "template": row.template,
        "channel": row.channel,
        "recipient_kind": row.recipient_kind,
        "recipient_id": row.recipient_id,
        "subject_id": row.subject_id,
        "status": row.status,
        "due_at": _at(row.due_at),
        "attempts": row.attempts,
        "error": row.error,
        "sent_at": _at(row.sent_at),
    }


def messages(
    uow: UnitOfWork, *, subject_id: str | None, status: str | None, recipient_id: str | None, limit: int
) -> dict[str, Any]:
    """Messages by subject (case, loan, task), status or recipient, soonest due first."""
    table = orm.messages
    query = sa.select(table)
    if subject_id:
        query = query.where(table.c.subject_id == subject_id)
    if status:
        query = query.where(table.c.status == status)
    if recipient_id:
        query = query.where(table.c.recipient_id == recipient_id)
    rows = uow.session.execute(query.order_by(table.c.due_at, table.c.id).limit(limit))
    return {"items": [_message(row) for row in rows]}


def deliveries(uow: UnitOfWork, *, message_id: str) -> dict[str, Any]:
    """A message with every attempt in its delivery log."""
    row = uow.session.execute(sa.select(orm.messages).where(orm.messages.c.id == message_id)).first()
    if row is None:
        raise NotFound("消息不存在")
    log = uow.session.execute(
        sa.select(orm.deliveries).where(orm.deliveries.c.message_id == message_id).order_by(orm.deliveries.c.id)
    )
    return {
        **_message(row),
        "deliveries": [
            {
                "attempt": entry.attempt,
                "status": entry.status,
                "provider_code": entry.provider_code,
                "template": entry.template,
                "masked_recipient": entry.masked_recipient,
                "body_sha256": entry.body_sha256,
                "digest_of": entry.digest_of,
                "at": _at(entry.at),
            }
            for entry in log
        ],
    }
