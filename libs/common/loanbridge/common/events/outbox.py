"""Reading the outbox: pending events in order, marking them published, backlog figures and pruning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.tables import outbox
from loanbridge.common.uow import naive_utc

PUBLISHED_RETENTION = timedelta(days=7)


@dataclass(frozen=True)
class PendingEvent:
    id: int
    event_id: str
    event_type: str
    routing_key: str
    envelope: str


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_created_at: datetime | None

    def oldest_age_seconds(self) -> float:
        if self.oldest_created_at is None:
            return 0.0
        return max(0.0, (clock.now() - clock.as_utc(self.oldest_created_at)).total_seconds())


def lock_pending(session: Session, limit: int) -> list[PendingEvent]:
    """The oldest unpublished events, locked for this relay (other relays skip them)."""
    rows = session.execute(
        sa.select(outbox.c.id, outbox.c.event_id, outbox.c.event_type, outbox.c.routing_key, outbox.c.envelope)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [PendingEvent(*row) for row in rows]


def mark_published(session: Session, ids: list[int]) -> None:
    session.execute(outbox.update().where(outbox.c.id.in_(ids)).values(published_at=naive_utc(clock.now())))


def backlog(session: Session) -> Backlog:
    pending, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
    ).one()
    return Backlog(pending=pending, oldest_created_at=oldest)


def prune_published(session: Session, *, batch: int = 5000) -> int:
    """Delete published events older than the retention period, a batch at a time."""
    cutoff = naive_utc(clock.now() - PUBLISHED_RETENTION)
    ids = (
        session.execute(sa.select(outbox.c.id).where(outbox.c.published_at < cutoff).order_by(outbox.c.id).limit(batch))
        .scalars()
        .all()
    )
    if ids:
        session.execute(outbox.delete().where(outbox.c.id.in_(ids)))
    return len(ids)
