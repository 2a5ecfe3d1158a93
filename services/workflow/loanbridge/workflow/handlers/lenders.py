"""Submissions of a case to lenders (banks, consumer-finance companies) and their decisions.

The lenders' approvals over submissions are the "approval rate" managers ask for. An approval moves the case to
合同签署; a decline to 机构拒贷, or back to 方案匹配 to try another lender.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import orm
from loanbridge.workflow.handlers.cases import case_in_scope, get_case, move_by_system, record
from loanbridge.workflow.views import json_number

SUBMITTABLE = ("risk_review",)


def submit(
    uow: UnitOfWork, *, principal: Principal, case_id: str, lender: str, lender_product: str, amount: Decimal
) -> dict[str, Any]:
    """Record that a case was submitted to a lender (in 风控复审)."""
    case = case_in_scope(uow, principal, case_id, for_update=True)
    if case.stage not in SUBMITTABLE:
        raise Conflict("只有风控复审阶段的案件可以提交机构", code="case_not_in_risk_review",
                       details={"stage": case.stage})  # fmt: skip
    row = {
        "id": str(uuid.uuid4()), "case_id": case.id, "lender": lender, "lender_product": lender_product,
        "amount": amount, "submitted_by": principal.subject, "submitted_at": naive_utc(clock.now()),
        "decision": None, "approved_amount": None, "reason": None, "decided_by": None, "decided_at": None,
    }  # fmt: skip
    uow.session.execute(orm.lender_submissions.insert(), row)
    uow.session.execute(orm.cases.update().where(orm.cases.c.id == case.id).values(lender_decision=None))
    record(uow, case_id=case.id, kind="lender", actor=principal.subject, to_value="submitted", reason=lender)
    _emit(uow, "workflow.lender.submitted", case, row)
    return answer(row)


def decide(
    uow: UnitOfWork,
    *,
    principal: Principal,
    case_id: str,
    submission_id: str,
    decision: str,
    approved_amount: Decimal | None,
    reason: str | None,
    next_stage: str,
) -> dict[str, Any]:
    """Record a lender's decision; approved → 合同签署, declined → ``next_stage`` (lender_declined or
    plan_matching)."""
    case = case_in_scope(uow, principal, case_id, for_update=True)
    table = orm.lender_submissions
    row = uow.session.execute(
        sa.select(table).where(table.c.id == submission_id, table.c.case_id == case_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("机构提交记录不存在")
    if row.decision is not None:
        raise Conflict("该提交已有机构结论", code="lender_already_decided")
    values = {"decision": decision, "approved_amount": approved_amount if decision == "approved" else None,
              "reason": reason, "decided_by": principal.subject, "decided_at": naive_utc(clock.now())}  # fmt: skip
    uow.session.execute(table.update().where(table.c.id == submission_id).values(**values))
    uow.session.execute(orm.cases.update().where(orm.cases.c.id == case_id).values(lender_decision=decision))
    decided = {**row._mapping, **values}
    record(uow, case_id=case_id, kind="lender", actor=principal.subject, to_value=decision, reason=reason)
    _emit(uow, "workflow.lender.decided", case, decided)
    target = "contract" if decision == "approved" else next_stage
    move_by_system(uow, case=get_case(uow, case_id), to=target, reason=f"机构结论:{decision}")
    return answer(decided)


def _emit(uow: UnitOfWork, event_type: str, case: Any, row: dict[str, Any]) -> None:
    uow.emit(
        event_type,
        subject=case.id,
        data={
            "case_id": case.id,
            "customer_id": case.customer_id,
            "submission_id": row["id"],
            "lender": row["lender"],
            "lender_product": row["lender_product"],
            "amount": json_number(row["amount"]),
            "decision": row["decision"],
            "approved_amount": json_number(row["approved_amount"]),
            "reason": row["reason"],
        },
    )


def answer(row: Any) -> dict[str, Any]:
    data = dict(row)
    return {
        "id": data["id"],
        "case_id": data["case_id"],
        "lender": data["lender"],
        "lender_product": data["lender_product"],
        "amount": json_number(data["amount"]),
        "decision": data["decision"],
        "approved_amount": json_number(data["approved_amount"]),
        "reason": data["reason"],
        "submitted_by": data["submitted_by"],
        "submitted_at": clock.as_utc(data["submitted_at"]),
        "decided_at": clock.as_utc(data["decided_at"]) if data["decided_at"] else None,
    }
