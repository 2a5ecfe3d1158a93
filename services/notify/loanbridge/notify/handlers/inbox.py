"""A staff member's in-app inbox: read, mark read."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm


def mark_read(uow: UnitOfWork, *, user_id: str, item_id: str) -> dict[str, Any]:
    """Mark one of the caller's own items read (someone else's is not found)."""
    items = orm.inbox_items
    where = sa.and_(items.c.id == item_id, items.c.user_id == user_id)
    if uow.session.execute(sa.select(items.c.id).where(where)).first() is None:
        raise NotFound("消息不存在")
    uow.session.execute(items.update().where(where, items.c.read_at.is_(None)).values(read_at=naive_utc(clock.now())))
    return {"id": item_id, "read": True}


def mark_all_read(uow: UnitOfWork, *, user_id: str) -> dict[str, Any]:
    """Mark every unread item of the caller read."""
    items = orm.inbox_items
    result = uow.session.execute(
        items.update()
        .where(items.c.user_id == user_id, items.c.read_at.is_(None))
        .values(read_at=naive_utc(clock.now()))
    )
    return {"marked": int(result.rowcount)}  # type: ignore[attr-defined]
