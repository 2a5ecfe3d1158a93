"""The history path: after a history written with past business times, every timer due before an instant is
closed without firing (no overdue, reminder or recycle event, nothing for the timer loop), while timers due later
stay armed and fire on time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.tables import access_audit
from loanbridge.workflow import orm
from loanbridge.workflow.service import SERVICE


def _open_tasks(suite: Any) -> list[Any]:
    with suite.runtime.database.session() as session:
        return list(session.execute(sa.select(orm.tasks).where(orm.tasks.c.status == "open")).all())


def test_timers_history_left_due_are_closed_unfired_and_later_ones_stay_armed(
    suite: Any, fixed_clock: Any, run_timers: Any
) -> None:
    old = suite.lead(submitted_by="sales-zhang")  # Monday 30 Nov 10:00: first contact due 14:00, pool in 15 days
    fixed_clock.advance(timedelta(days=16))  # Wednesday 16 Dec 10:00
    recent = suite.lead(submitted_by="sales-li")  # first contact due 14:00, its reminder at 13:00
    fixed_clock.advance(timedelta(hours=3, minutes=30))  # 13:30: the recent reminder is due, its task not yet
    suite.events()

    closed = SERVICE.close_history(suite.runtime, before=clock.now(), actor="demo-data")

    assert closed == {"tasks": 1, "reminders": 1, "pool_clocks": 1, "installment_checks": 0}
    assert suite.events() == []
    assert run_timers() == 0
    assert {task.case_id for task in _open_tasks(suite)} == {recent["id"]}
    [cancelled] = suite.tasks(old["id"], status="cancelled")
    assert cancelled["kind"] == "first_contact" and cancelled["overdue_at"] is None
    with suite.runtime.database.session() as session:
        owners = session.execute(sa.select(orm.owners.c.customer_id, orm.owners.c.recycle_due_at)).all()
        audit = session.execute(sa.select(access_audit).where(access_audit.c.action == "close_history")).one()
    assert {row.customer_id for row in owners if row.recycle_due_at is not None} == {recent["customer_id"]}
    assert audit.actor == "demo-data" and "tasks=1" in audit.fields

    fixed_clock.advance(timedelta(hours=1))  # 14:30: the recent task is due now, in the live system
    run_timers()

    fired = suite.events()
    assert [(event.type, event.data["case_id"]) for event in fired] == [("workflow.task.overdue", recent["id"])]


def test_closing_history_twice_closes_nothing_more(suite: Any, fixed_clock: Any) -> None:
    suite.lead(submitted_by="sales-zhang")
    fixed_clock.advance(timedelta(days=40))
    first = SERVICE.close_history(suite.runtime, before=clock.now(), actor="demo-data")

    again = SERVICE.close_history(suite.runtime, before=clock.now(), actor="demo-data")

    assert first["tasks"] == 1 and first["pool_clocks"] == 1
    assert again == {"tasks": 0, "reminders": 0, "pool_clocks": 0, "installment_checks": 0}
