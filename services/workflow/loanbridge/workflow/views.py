"""Read-side queries of the API: cases in the caller's scope, their history, tasks, the team board, the pool.

Scope (ARCHITECTURE.md §4): sales see the cases they are assigned and the leads they entered, managers their
teams' cases and the unassigned ones, risk, ops and admins every case. Outside it a case is a 404.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.pagination import Page, after_cursor, page
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import orm

SEES_EVERY_CASE = ("admin", "ops", "risk_officer", "risk_director")


def case_scope(principal: Principal) -> Any:
    """The cases a caller may see, as a SQL condition."""
    cases = orm.cases
    if principal.has_any(*SEES_EVERY_CASE):
        return sa.true()
    mine = sa.or_(cases.c.assignee_id == principal.subject, cases.c.submitted_by == principal.subject)
    if principal.has_any("manager"):
        team_members = sa.select(orm.staff.c.user_id).where(orm.staff.c.team_id.in_(principal.managed_team_ids))
        return sa.or_(
            mine,
            cases.c.assignee_id.is_(None),
            cases.c.team_id.in_(principal.managed_team_ids),
            cases.c.assignee_id.in_(team_members),
        )
    return mine


def json_number(value: Any) -> int | float | None:
    """Money and rates as JSON numbers: an integer when whole, else a decimal number."""
    if value is None:
        return None
    amount = Decimal(str(value))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def case_answer(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "product": row.product,
        "amount": float(row.amount),
        "term_months": row.term_months,
        "channel": row.channel,
        "city": row.city,
        "partner_id": row.partner_id,
        "submitted_by": row.submitted_by,
        "process_version": row.process_version,
        "stage": row.stage,
        "stage_entered_at": clock.as_utc(row.stage_entered_at),
        "assignee_id": row.assignee_id,
        "team_id": row.team_id,
        "documents": json.loads(row.documents),
        "lender_decision": row.lender_decision,
        "created_at": clock.as_utc(row.created_at),
        "closed_at": clock.as_utc(row.closed_at) if row.closed_at else None,
    }


def list_cases(
    uow: UnitOfWork, *, principal: Principal, filters: dict[str, Any], limit: int, cursor: str | None
) -> Page:
    """Cases in the caller's scope, newest first, filtered by stage, assignee, product, city or customer."""
    cases = orm.cases
    query = sa.select(cases).where(case_scope(principal), after_cursor(cases, cursor))
    if filters.get("mine"):
        query = query.where(cases.c.assignee_id == principal.subject)
    for name in ("stage", "assignee_id", "product", "city", "customer_id", "team_id"):
        if filters.get(name):
            query = query.where(cases.c[name] == filters[name])
    rows = uow.session.execute(query.order_by(cases.c.created_at.desc(), cases.c.id.desc()).limit(limit + 1)).all()
    return page(list(rows), limit, case_answer)


def read_case(uow: UnitOfWork, *, principal: Principal, case_id: str) -> dict[str, Any]:
    from loanbridge.workflow.handlers.cases import case_in_scope

    return case_answer(case_in_scope(uow, principal, case_id))


def case_history(uow: UnitOfWork, *, principal: Principal, case_id: str) -> list[dict[str, Any]]:
    """Every move of a case, oldest first."""
    from loanbridge.workflow.handlers.cases import case_in_scope

    case_in_scope(uow, principal, case_id)
    history = orm.case_history
    rows = uow.session.execute(sa.select(history).where(history.c.case_id == case_id).order_by(history.c.id)).all()
    return [
        {
            "at": clock.as_utc(row.at),
            "kind": row.kind,
            "from": row.from_value,
            "to": row.to_value,
            "actor": row.actor,
            "reason": row.reason,
            "details": json.loads(row.details) if row.details else {},
        }
        for row in rows
    ]


def my_tasks(uow: UnitOfWork, *, principal: Principal, status: str, overdue: bool | None) -> list[dict[str, Any]]:
    """The caller's to-dos (theirs, or for a role they hold), soonest due first."""
    from loanbridge.workflow.handlers.tasks import task_answer

    tasks = orm.tasks
    query = sa.select(tasks).where(
        sa.or_(tasks.c.assignee_id == principal.subject, tasks.c.assignee_role.in_(sorted(principal.roles))),
        tasks.c.status == status,
    )
    now = naive_utc(clock.now())
    if overdue is True:
        query = query.where(tasks.c.due_at <= now)
    elif overdue is False:
        query = query.where(sa.or_(tasks.c.due_at.is_(None), tasks.c.due_at > now))
    rows = uow.session.execute(query.order_by(tasks.c.due_at, tasks.c.id).limit(500)).all()
    return [task_answer(row._mapping) for row in rows]


def team_board(uow: UnitOfWork, *, principal: Principal, team_id: str | None) -> dict[str, Any]:
    """Per stage, a manager's open cases: how many, how many past their stage's SLA, how many with overdue tasks,
    and who holds them."""
    from loanbridge.workflow.domain import processes, sla
    from loanbridge.workflow.handlers.calendar import business_calendar
    from loanbridge.workflow.handlers.processes import definition_of

    cases, tasks = orm.cases, orm.tasks
    query = sa.select(cases).where(cases.c.closed_at.is_(None), case_scope(principal))
    if team_id:
        query = query.where(cases.c.team_id == team_id)
    rows = uow.session.execute(query).all()
    now = clock.now()
    late = {
        row.case_id
        for row in uow.session.execute(
            sa.select(tasks.c.case_id).where(tasks.c.status == "open", tasks.c.due_at <= naive_utc(now))
        )
    }
    calendar = business_calendar(uow)
    stages: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = stages.setdefault(
            row.stage, {"stage": row.stage, "open": 0, "sla_breached": 0, "overdue": 0, "by_assignee": {}}
        )
        entry["open"] += 1
        entry["overdue"] += int(row.id in late)
        rule = (processes.stage(definition_of(uow, row.product, row.process_version), row.stage) or {}).get("sla")
        if rule and sla.deadline(row.stage_entered_at, rule["duration"], rule["unit"], on=calendar) <= now:
            entry["sla_breached"] += 1
        who = row.assignee_id or "unassigned"
        entry["by_assignee"][who] = entry["by_assignee"].get(who, 0) + 1
    return {"team_id": team_id, "stages": sorted(stages.values(), key=lambda item: item["stage"])}


def public_pool(uow: UnitOfWork, *, limit: int, cursor: str | None, city: str | None, product: str | None) -> Page:
    """Open cases whose customer nobody owns (公海), newest first."""
    cases, owners = orm.cases, orm.owners
    query = (
        sa.select(cases, owners.c.pool_reason, owners.c.released_by, owners.c.released_at)
        .join(owners, owners.c.customer_id == cases.c.customer_id)
        .where(owners.c.owner_id.is_(None), cases.c.closed_at.is_(None), after_cursor(cases, cursor))
    )
    if city:
        query = query.where(cases.c.city == city)
    if product:
        query = query.where(cases.c.product == product)
    rows = uow.session.execute(query.order_by(cases.c.created_at.desc(), cases.c.id.desc()).limit(limit + 1)).all()

    def shape(row: Any) -> dict[str, Any]:
        return {
            **case_answer(row),
            "pool_reason": row.pool_reason,
            "released_by": row.released_by,
            "released_at": clock.as_utc(row.released_at) if row.released_at else None,
        }

    return page(list(rows), limit, shape)
