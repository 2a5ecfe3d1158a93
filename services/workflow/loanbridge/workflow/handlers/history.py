"""The history path: after a history was written with business times in the past (demo data, an import of a
firm's past), close every timer that history left due before an instant, without firing it.

A timer that fired now for a deadline of last spring would send reminders, escalations and pool recycling for
work that, in the story, was done or abandoned long ago. So, for everything due before ``before``:

- open tasks past due are cancelled (no ``workflow.task.overdue``, no escalation);
- reminders due of tasks still open are marked sent (no ``workflow.task.reminder_due``); the task stays armed;
- customers' public-pool clocks are stopped (not recycled; the next contact starts a new one, as after a
  recycle check that found work in progress);
- unpaid installments past due count as checked today (the daily overdue check resumes on the next business
  day; the history reported its own overdue days).

Nothing due after ``before`` is touched, and nothing is emitted. One audit row records who closed what.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from loanbridge.common import clock
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import orm
from loanbridge.workflow.handlers.tasks import CANCELLED, OPEN

log = structlog.get_logger(__name__)


def close_history(uow: UnitOfWork, *, before: datetime, actor: str) -> dict[str, int]:
    """Close, without firing, every workflow timer that history left due before ``before``."""
    cutoff = naive_utc(before)
    tasks, owners, installments = orm.tasks, orm.owners, orm.installments
    overdue = _rowcount(
        uow.session.execute(
            tasks.update()
            .where(tasks.c.status == OPEN, tasks.c.overdue_at.is_(None), tasks.c.due_at <= cutoff)
            .values(status=CANCELLED, completed_at=cutoff)
        )
    )
    reminders = _rowcount(
        uow.session.execute(
            tasks.update()
            .where(tasks.c.status == OPEN, tasks.c.reminded_at.is_(None), tasks.c.remind_at <= cutoff)
            .values(reminded_at=cutoff)
        )
    )
    recycling = _rowcount(
        uow.session.execute(
            owners.update()
            .where(owners.c.owner_id.is_not(None), owners.c.recycle_due_at <= cutoff)
            .values(recycle_due_at=None)
        )
    )
    today = clock.business_date(before)
    checks = _rowcount(
        uow.session.execute(
            installments.update()
            .where(
                installments.c.paid_at.is_(None),
                installments.c.due_date < today,
                sa.or_(installments.c.overdue_checked_on.is_(None), installments.c.overdue_checked_on < today),
            )
            .values(overdue_checked_on=today)
        )
    )
    closed = {"tasks": overdue, "reminders": reminders, "pool_clocks": recycling, "installment_checks": checks}
    uow.audit(actor=actor, action="close_history", resource=f"timers_before:{clock.isoformat(before)}",
              fields=[f"{name}={count}" for name, count in closed.items()])  # fmt: skip
    log.info("history_closed", before=clock.isoformat(before), actor=actor, **closed)
    return closed


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
