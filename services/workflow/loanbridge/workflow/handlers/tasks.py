"""Tasks (to-dos with an assignee or a role and a due time) and the timers that fire them.

A task is its own timer: the worker's timer loop takes open tasks past their due time in batches, row-locked
(``SKIP LOCKED`` on MariaDB, so two workers share the batch instead of waiting), marks each overdue in the same
transaction as the ``workflow.task.overdue`` event, and never takes a task marked already. Reminders (the SLA's
``remind_before``) fire the same way, once, as ``workflow.task.reminder_due``, while the task is still open and
not yet due. A worker that was
down fires what it missed when it comes back: the query is "due before now", not "due in this second".
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, NotFound
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import config as settings
from loanbridge.workflow import orm
from loanbridge.workflow.domain import sla
from loanbridge.workflow.handlers import staff

log = structlog.get_logger(__name__)

OPEN, DONE, CANCELLED = "open", "done", "cancelled"
FOLLOWUP = "followup"
MANAGER = "manager_id"
# What a task's events say of it (``_emit``).
EVENT_FIELDS = tuple(
    orm.tasks.c[name]
    for name in (
        "id",
        "case_id",
        "customer_id",
        "assignee_id",
        "assignee_role",
        "kind",
        "title",
        "due_at",
        "escalate_to",
    )
)


def deadline(uow: UnitOfWork, start: datetime, amount: float, unit: str) -> datetime:
    """Every SLA deadline of the service, on the firm's working hours and calendar."""
    from loanbridge.workflow.handlers.calendar import business_calendar

    return sla.deadline(start, amount, unit, on=business_calendar(uow))


def create_task(
    uow: UnitOfWork,
    *,
    case: Any,
    kind: str,
    title: str,
    assignee_id: str | None,
    assignee_role: str | None = None,
    due_at: datetime | None,
    remind_at: datetime | None = None,
    escalate_to: str | None = "manager",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a to-do on a case and announce it (``workflow.task.created``)."""
    now = clock.now()
    row = {
        "id": str(uuid.uuid4()),
        "case_id": case.id,
        "customer_id": case.customer_id,
        "kind": kind,
        "title": title,
        "assignee_id": assignee_id,
        "assignee_role": assignee_role,
        "status": OPEN,
        "due_at": naive_utc(due_at) if due_at else None,
        "remind_at": naive_utc(remind_at) if remind_at else None,
        "escalate_to": escalate_to,
        "overdue_at": None,
        "escalated_to": None,
        "details": json.dumps(details or {}, ensure_ascii=False),
        "created_at": naive_utc(now),
        "completed_at": None,
        "reminded_at": None,
    }
    uow.session.execute(orm.tasks.insert(), row)
    _emit(uow, "workflow.task.created", row, escalation=_escalation(uow, row))
    return row


def complete_open(uow: UnitOfWork, *, case_id: str, kinds: tuple[str, ...] | None = None) -> int:
    """Complete a case's open tasks (of some kinds): their work was done by the event that calls this."""
    return _close(uow, case_id=case_id, kinds=kinds, status=DONE)


def cancel_open(uow: UnitOfWork, *, case_id: str, kinds: tuple[str, ...] | None = None) -> int:
    """Drop a case's open tasks (of some kinds) that no longer apply (the customer left its owner)."""
    return _close(uow, case_id=case_id, kinds=kinds, status=CANCELLED)


def cancel_personal(uow: UnitOfWork, *, case_id: str) -> int:
    """Drop a case's open tasks for its owner (the customer left them); tasks for a role stay."""
    return _close(uow, case_id=case_id, kinds=None, status=CANCELLED, personal=True)


def _close(uow: UnitOfWork, *, case_id: str, kinds: tuple[str, ...] | None, status: str, personal: bool = False) -> int:
    tasks = orm.tasks
    query = sa.select(*EVENT_FIELDS, assignees_manager()).where(tasks.c.case_id == case_id, tasks.c.status == OPEN)
    if personal:
        query = query.where(tasks.c.assignee_id.is_not(None))
    if kinds is not None:
        query = query.where(tasks.c.kind.in_(kinds))
    rows = uow.session.execute(query).all()
    if not rows:
        return 0
    now = naive_utc(clock.now())
    ids = [row.id for row in rows]
    uow.session.execute(tasks.update().where(tasks.c.id.in_(ids)).values(status=status, completed_at=now))
    if status == DONE:
        for row in rows:
            _emit(uow, "workflow.task.completed", row._mapping, escalation=_escalation(uow, row._mapping))
    return len(rows)


def reassign_open(uow: UnitOfWork, *, case_id: str, from_user: str | None, to_user: str) -> None:
    """A case's open personal tasks follow the case to its new owner."""
    tasks = orm.tasks
    uow.session.execute(
        tasks.update()
        .where(tasks.c.case_id == case_id, tasks.c.status == OPEN, tasks.c.assignee_id.is_not(None))
        .where(tasks.c.assignee_id == from_user if from_user else sa.true())
        .values(assignee_id=to_user)
    )


def schedule_followup(
    uow: UnitOfWork, *, case: Any, grade: str | None, after: datetime, due_at: datetime | None
) -> None:
    """Replace the case's open follow-up with one due at ``due_at``, or after the cadence of its grade."""
    cancel_open(uow, case_id=case.id, kinds=(FOLLOWUP,))
    if case.assignee_id is None:
        return
    config = settings.of(uow)
    days = config.followup_days.get(grade or config.default_grade, config.followup_days[config.default_grade])
    due = due_at or deadline(uow, after, days, "working_days")
    create_task(
        uow, case=case, kind=FOLLOWUP, title="按计划跟进客户", assignee_id=case.assignee_id, due_at=due,
        details={"grade": grade or config.default_grade},
    )  # fmt: skip


def _escalation(uow: UnitOfWork, task: Any) -> dict[str, Any] | None:
    """Whom an overdue task goes to: the assignee's manager (as identity last told), or a role."""
    target = task["escalate_to"]
    if target is None:
        return None
    if target == "manager":
        manager = task[MANAGER] if MANAGER in task else staff.manager_of(uow, task["assignee_id"])
        return {"user_id": manager, "role": "manager"}
    return {"user_id": None, "role": target}


def assignees_manager() -> sa.Label[Any]:
    """The manager of a task's assignee, as a column of a select over tasks: a case's tasks and their managers
    in one statement (a row read with it carries ``MANAGER``)."""
    staff_, teams = orm.staff, orm.teams
    return (
        sa.select(teams.c.manager_id)
        .join_from(staff_, teams, staff_.c.team_id == teams.c.team_id)
        .where(staff_.c.user_id == orm.tasks.c.assignee_id)
        .scalar_subquery()
        .label(MANAGER)
    )


def _emit(uow: UnitOfWork, event_type: str, task: Any, *, escalation: dict[str, Any] | None) -> None:
    uow.emit(
        event_type,
        subject=task["id"],
        data={
            "task_id": task["id"],
            "case_id": task["case_id"],
            "customer_id": task["customer_id"],
            "assignee_id": task["assignee_id"],
            "assignee_role": task["assignee_role"],
            "kind": task["kind"],
            "title": task["title"],
            "due_at": clock.isoformat(task["due_at"]) if task["due_at"] else None,
            "escalate_to": escalation,
        },
    )


# --- the API side -----------------------------------------------------------------------------------------------
def complete_task(uow: UnitOfWork, *, principal: Principal, task_id: str) -> dict[str, Any]:
    """Mark a to-do done: its assignee, a holder of its role, a manager or an admin."""
    tasks = orm.tasks
    row = uow.session.execute(sa.select(tasks).where(tasks.c.id == task_id).with_for_update()).first()
    if row is None or not may_see_task(principal, row):
        raise NotFound("任务不存在")
    if row.status != OPEN:
        raise Conflict("任务已关闭", code="task_closed")
    now = naive_utc(clock.now())
    uow.session.execute(tasks.update().where(tasks.c.id == task_id).values(status=DONE, completed_at=now))
    _emit(uow, "workflow.task.completed", row._mapping, escalation=_escalation(uow, row._mapping))
    return task_answer({**row._mapping, "status": DONE, "completed_at": now})


def may_see_task(principal: Principal, row: Any) -> bool:
    if principal.has_any("admin", "manager"):
        return True
    return row.assignee_id == principal.subject or (
        row.assignee_role is not None and row.assignee_role in principal.roles
    )


def task_answer(row: Any) -> dict[str, Any]:
    data = dict(row)
    now = clock.now()
    due = clock.as_utc(data["due_at"]) if data["due_at"] else None
    return {
        "id": data["id"],
        "case_id": data["case_id"],
        "customer_id": data["customer_id"],
        "kind": data["kind"],
        "title": data["title"],
        "assignee_id": data["assignee_id"],
        "assignee_role": data["assignee_role"],
        "status": data["status"],
        "due_at": due,
        "remind_at": clock.as_utc(data["remind_at"]) if data["remind_at"] else None,
        "overdue": data["status"] == OPEN and due is not None and due <= now,
        "escalated_to": data["escalated_to"],
        "details": json.loads(data["details"]) if isinstance(data["details"], str) else data["details"],
        "created_at": clock.as_utc(data["created_at"]),
        "completed_at": clock.as_utc(data["completed_at"]) if data["completed_at"] else None,
    }


# --- the timers -------------------------------------------------------------------------------------------------
def fire_overdue(uow: UnitOfWork, *, limit: int) -> int:
    """Mark a batch of open tasks past due as overdue, once each, with ``workflow.task.overdue``."""
    tasks, now = orm.tasks, naive_utc(clock.now())
    rows = uow.session.execute(
        sa.select(tasks)
        .where(tasks.c.status == OPEN, tasks.c.overdue_at.is_(None), tasks.c.due_at <= now)
        .order_by(tasks.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    fired = 0
    for row in rows:
        escalation = _escalation(uow, row._mapping)
        escalated_to = (escalation or {}).get("user_id") or (escalation or {}).get("role")
        marked = uow.session.execute(
            tasks.update()
            .where(tasks.c.id == row.id, tasks.c.overdue_at.is_(None))
            .values(overdue_at=now, escalated_to=escalated_to)
        )
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            continue
        _emit(uow, "workflow.task.overdue", row._mapping, escalation=escalation)
        uow.session.execute(
            orm.case_history.insert(),
            {
                "case_id": row.case_id, "at": now, "kind": "escalated", "from_value": row.assignee_id,
                "to_value": escalated_to, "actor": "system", "reason": f"任务逾期:{row.title}"[:200],
                "details": json.dumps({"task_id": row.id, "kind": row.kind}),
            },
        )  # fmt: skip
        fired += 1
    return fired


def fire_reminders(uow: UnitOfWork, *, limit: int) -> int:
    """Remind the assignees of a batch of open tasks whose reminder time came, once each, before they are due
    (a reminder missed until the task is due is dropped: the overdue message says more)."""
    tasks, now = orm.tasks, naive_utc(clock.now())
    rows = uow.session.execute(
        sa.select(tasks)
        .where(tasks.c.status == OPEN, tasks.c.reminded_at.is_(None), tasks.c.remind_at <= now)
        .order_by(tasks.c.remind_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    reminded = 0
    for row in rows:
        marked = uow.session.execute(
            tasks.update().where(tasks.c.id == row.id, tasks.c.reminded_at.is_(None)).values(reminded_at=now)
        )
        if marked.rowcount != 1 or (row.due_at is not None and row.due_at <= now):  # type: ignore[attr-defined]
            continue
        _emit(uow, "workflow.task.reminder_due", row._mapping, escalation=_escalation(uow, row._mapping))
        reminded += 1
    return reminded


def run_timers(runtime: Runtime) -> int:
    """One pass of every timer: reminders and overdue tasks, lapsed customers back to the public pool, overdue
    installments."""
    from loanbridge.workflow.handlers import loans, pool

    config = settings.of(runtime)
    fired = runtime.transaction(fire_reminders, limit=config.timer_batch)
    fired += runtime.transaction(fire_overdue, limit=config.timer_batch)
    recycled = runtime.transaction(pool.recycle_lapsed, limit=config.timer_batch)
    overdue_installments = runtime.transaction(loans.mark_overdue, limit=config.timer_batch)
    if fired or recycled or overdue_installments:
        log.info("timers_fired", tasks_overdue=fired, customers_recycled=recycled, installments=overdue_installments)
    return fired + recycled + overdue_installments


def timer_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Fire due timers until ``stop`` is set; a full batch is followed at once by the next."""
    while not stop.is_set():
        try:
            worked = run_timers(runtime)
        except Exception as exc:  # a failing batch is logged and retried on the next pass, the loop goes on
            log.error("timer_loop_error", error=type(exc).__name__, exc_info=exc)
            worked = 0
        if not worked:
            stop.wait(settings.of(runtime).timer_poll_seconds)
