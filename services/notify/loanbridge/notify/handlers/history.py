"""The history path: after a history was written with business times in the past (demo data, an import of a
firm's past), close every message and webhook delivery that history left due before an instant, unsent.

The events of such a history reach notify like any other and its policies schedule their messages; a message due
last spring must not reach a salesperson's DingTalk or a customer's phone today. Pending messages and webhook
deliveries due before ``before`` become ``skipped`` (error ``history``): nothing is sent, no
``notify.message.sent`` / ``.failed`` is emitted. Those due later (a repayment reminder for next month) stay
scheduled. One audit row records who closed what.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from loanbridge.common import clock
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm

log = structlog.get_logger(__name__)

SKIPPED = "skipped"


def close_history(uow: UnitOfWork, *, before: datetime, actor: str) -> dict[str, int]:
    """Skip, unsent, every pending message and webhook delivery due before ``before``."""
    cutoff = naive_utc(before)
    messages, deliveries = orm.messages, orm.webhook_deliveries
    skipped = _rowcount(
        uow.session.execute(
            messages.update()
            .where(messages.c.status == "pending", messages.c.due_at <= cutoff)
            .values(status=SKIPPED, error="history", lease_until=None)
        )
    )
    webhooks = _rowcount(
        uow.session.execute(
            deliveries.update()
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= cutoff)
            .values(status=SKIPPED, next_attempt_at=None, lease_until=None)
        )
    )
    closed = {"messages": skipped, "webhook_deliveries": webhooks}
    uow.audit(actor=actor, action="close_history", resource=f"messages_before:{clock.isoformat(before)}",
              fields=[f"{name}={count}" for name, count in closed.items()])  # fmt: skip
    log.info("history_closed", before=clock.isoformat(before), actor=actor, **closed)
    return closed


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
