"""The history path: messages that a history written with past business times left due before an instant are
skipped unsent (no delivery, no notify.message.* event), while those due later stay scheduled and go out on
time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock as clocks
from loanbridge.common.tables import access_audit, outbox
from loanbridge.notify import orm
from loanbridge.notify.service import SERVICE

from .test_notify_schedules import disbursed, schedule


def _installment(message: Any) -> int:
    return int(json.loads(message.context)["installment"]["installment"])


def test_reminders_history_left_due_are_skipped_unsent_and_later_ones_go_out_on_time(
    notify: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, messages: Any, dispatch_now: Any
) -> None:
    event = deliver("workflow.loan.disbursed", disbursed(customer("13812345678"), schedule(date(2026, 4, 15), 6)))
    clock.set(datetime(2026, 7, 1, 2, 0, tzinfo=UTC))  # after the reminders of April, May and June

    closed = SERVICE.close_history(notify.runtime, before=clocks.now(), actor="demo-data")

    assert closed == {"messages": 3, "webhook_deliveries": 0}
    by_installment = {_installment(m): (m.status, m.error) for m in messages(event_id=event.id)}
    assert by_installment == {1: ("skipped", "history"), 2: ("skipped", "history"), 3: ("skipped", "history"),
                              4: ("pending", None), 5: ("pending", None), 6: ("pending", None)}  # fmt: skip
    assert dispatch_now() == 0
    assert aliyun[1].requests == []

    clock.set(datetime(2026, 7, 12, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai, three days before installment 4
    sent = dispatch_now()

    assert sent == 1 and len(aliyun[1].requests) == 1
    assert [_installment(m) for m in messages(event_id=event.id, status="sent")] == [4]
    with notify.runtime.database.session() as session:
        deliveries = session.execute(sa.select(orm.deliveries.c.message_id)).scalars().all()
        published = session.execute(sa.select(outbox.c.event_type)).scalars().all()
        audit = session.execute(sa.select(access_audit).where(access_audit.c.action == "close_history")).one()
    assert len(deliveries) == 1 and published == ["notify.message.sent"]
    assert audit.actor == "demo-data" and audit.fields == "messages=3,webhook_deliveries=0"
