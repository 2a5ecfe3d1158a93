"""The public pool (公海): customers nobody owns. A customer not followed up within the recycle time, or released
by their owner, goes back with the reason; staff claim from it within their caps; whoever let a customer lapse
cannot take it back before the cool-down ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, Forbidden
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import config as settings
from loanbridge.workflow import orm
from loanbridge.workflow.domain import processes as process_rules
from loanbridge.workflow.handlers import staff, tasks
from loanbridge.workflow.handlers.cases import (
    case_in_scope,
    enter_stage,
    get_case,
    open_cases_of,
    owner_row,
    record,
    recycle_due,
)
from loanbridge.workflow.handlers.processes import definition_of
from loanbridge.workflow.views import case_answer

LAPSED = "超时未跟进"
OWNER_DEACTIVATED = "负责人已停用"


def recycle_lapsed(uow: UnitOfWork, *, limit: int) -> int:
    """Send a batch of customers not followed up in time to the public pool (row-locked, SKIP LOCKED)."""
    owners, now, config = orm.owners, naive_utc(clock.now()), settings.of(uow)
    rows = uow.session.execute(
        sa.select(owners)
        .where(owners.c.owner_id.is_not(None), owners.c.recycle_due_at <= now)
        .order_by(owners.c.recycle_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        cases = open_cases_of(uow, row.customer_id)
        if cases and all(case.stage in config.recycle_stages for case in cases):
            recycle(uow, customer_id=row.customer_id, released_by=row.owner_id, reason=LAPSED, actor="system")
        else:  # work in progress (or nothing open): not recycled; the clock restarts with the next contact
            uow.session.execute(
                owners.update().where(owners.c.customer_id == row.customer_id).values(recycle_due_at=None)
            )
    return len(rows)


def on_staff_changed(uow: UnitOfWork, event: Envelope) -> None:
    """``identity.user.updated`` / ``.deactivated``: the account is projected; if it is now inactive, every
    customer it owns goes back to the public pool at once, so that none waits for an owner who has left."""
    staff.on_user_changed(uow, event)
    member = staff.staff_member(uow, event.data["user_id"])
    if member is None or member.active:  # active, or an older event than the one projected
        return
    owners = orm.owners
    customers = uow.session.execute(
        sa.select(owners.c.customer_id).where(owners.c.owner_id == member.user_id).with_for_update()
    ).scalars()
    for customer_id in list(customers):
        recycle(uow, customer_id=customer_id, released_by=member.user_id, reason=OWNER_DEACTIVATED, actor="system")


def recycle(uow: UnitOfWork, *, customer_id: str, released_by: str | None, reason: str, actor: str) -> None:
    """The customer leaves their owner for the public pool: ``workflow.case.recycled`` for each open case."""
    now = naive_utc(clock.now())
    uow.session.execute(
        orm.owners.update()
        .where(orm.owners.c.customer_id == customer_id)
        .values(owner_id=None, team_id=None, released_by=released_by, released_at=now, pool_reason=reason,
                recycle_due_at=None)
    )  # fmt: skip
    for case in open_cases_of(uow, customer_id):
        uow.session.execute(orm.cases.update().where(orm.cases.c.id == case.id).values(assignee_id=None, team_id=None))
        tasks.cancel_personal(uow, case_id=case.id)
        record(uow, case_id=case.id, kind="recycled", actor=actor, from_value=case.assignee_id, reason=reason)
        uow.emit(
            "workflow.case.recycled",
            subject=case.id,
            data={
                "case_id": case.id,
                "customer_id": customer_id,
                "from_owner": case.assignee_id,
                "to_owner": None,
                "reason": reason,
            },
        )


def release(uow: UnitOfWork, *, principal: Principal, case_id: str, reason: str) -> dict[str, Any]:
    """An owner (or their manager) gives a customer back to the public pool."""
    case = case_in_scope(uow, principal, case_id, for_update=True)
    owner = owner_row(uow, case.customer_id)
    if owner is None or owner.owner_id is None:
        raise Conflict("客户已在公海中", code="already_in_pool")
    if owner.owner_id != principal.subject and not principal.has_any("manager", "admin"):
        raise Forbidden("只有负责人或其主管可以释放客户", code="not_owner")
    recycle(uow, customer_id=case.customer_id, released_by=owner.owner_id, reason=reason, actor=principal.subject)
    return case_answer(get_case(uow, case_id))


def claim(uow: UnitOfWork, *, principal: Principal, case_id: str) -> dict[str, Any]:
    """Take a customer from the public pool: within one's cap, and not one that lapsed with oneself too lately."""
    config = settings.of(uow)
    case = get_case(uow, case_id, for_update=True)
    owner = owner_row(uow, case.customer_id) if case is not None else None
    if case is None or case.closed_at is not None or owner is None:
        raise Conflict("该客户不在公海中", code="not_in_pool")
    if owner.owner_id is not None:
        raise Conflict("该客户已有负责人", code="not_in_pool")
    member = staff.lock_staff_member(uow, principal.subject)
    if member is not None and not member.active:
        raise Forbidden("账号已停用", code="staff_inactive")
    cap = staff.cap_of(member, config.default_cap)
    if staff.open_customers(uow, principal.subject) >= cap:
        raise Conflict("已达到可负责客户数上限", code="cap_reached", details={"cap": cap})
    cooldown = timedelta(days=config.reclaim_cooldown_days)
    if (
        owner.released_by == principal.subject
        and owner.released_at is not None
        and clock.as_utc(owner.released_at) + cooldown > clock.now()
    ):
        until = clock.as_utc(owner.released_at) + cooldown
        raise Conflict("刚释放或超时回收的客户暂不能由本人领取", code="reclaim_too_soon",
                       details={"until": clock.isoformat(until)})  # fmt: skip
    team_id = member.team_id if member is not None else None
    now = clock.now()
    uow.session.execute(
        orm.owners.update()
        .where(orm.owners.c.customer_id == case.customer_id)
        .values(owner_id=principal.subject, team_id=team_id, owned_since=naive_utc(now),
                recycle_due_at=naive_utc(recycle_due(uow, owner.grade, now)), pool_reason=None)
    )  # fmt: skip
    for other in open_cases_of(uow, case.customer_id):
        uow.session.execute(
            orm.cases.update().where(orm.cases.c.id == other.id).values(assignee_id=principal.subject, team_id=team_id)
        )
        record(uow, case_id=other.id, kind="claimed", actor=principal.subject, from_value=owner.released_by,
               to_value=principal.subject, reason="公海领取")  # fmt: skip
        uow.emit(
            "workflow.case.claimed",
            subject=other.id,
            data={
                "case_id": other.id,
                "customer_id": case.customer_id,
                "from_owner": owner.released_by,
                "to_owner": principal.subject,
                "team_id": team_id,
                "reason": "公海领取",
            },
        )
        fresh = get_case(uow, other.id)
        definition = definition_of(uow, fresh.product, fresh.process_version)
        if process_rules.transition_between(definition, fresh.stage, "assigned") and fresh.stage == "new":
            enter_stage(uow, case=fresh, to="assigned", actor=principal.subject, reason="公海领取",
                        definition=definition)  # fmt: skip
        else:
            tasks.schedule_followup(uow, case=fresh, grade=owner.grade, after=now, due_at=None)
    return case_answer(get_case(uow, case_id))
