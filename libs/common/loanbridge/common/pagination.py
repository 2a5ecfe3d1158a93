"""Cursor pagination of every list (``?limit=&cursor=``): newest first by (created_at, id), the cursor an opaque
token naming the last row of the page before."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    """The cursor of a row (its stored, naive-UTC or aware, creation time and its id)."""
    return base64.urlsafe_b64encode(f"{clock.isoformat(clock.as_utc(created_at))}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (naive UTC creation time, id) a cursor names; 422 naming ``cursor`` when it is not one."""
    try:
        instant, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return clock.as_utc(clock.parse_iso(instant)).replace(tzinfo=None), row_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.for_field("cursor", "分页游标无效") from exc


def after_cursor(table: sa.Table, cursor: str | None) -> Any:
    """The rows after the cursor in (created_at, id) descending order; every row without one."""
    if not cursor:
        return sa.true()
    created_at, row_id = decode_cursor(cursor)
    return sa.or_(table.c.created_at < created_at, sa.and_(table.c.created_at == created_at, table.c.id < row_id))


def newest_first(table: sa.Table) -> tuple[Any, Any]:
    """The order every paginated list is read in."""
    return table.c.created_at.desc(), table.c.id.desc()


def page(rows: list[Any], limit: int, shape: Callable[[Any], dict[str, Any]]) -> Page:
    """A page of ``limit`` rows shaped for the answer, from ``limit + 1`` rows read (one more says there is more)."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page(items=[shape(row) for row in rows], next_cursor=cursor)
