"""Loans after disbursement: the schedule (等额本息, 等额本金 or the lender's own), repayments from the finance
system (idempotent by its reference), the daily overdue check in the business time zone, and settlement."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc, request_hash
from loanbridge.workflow import orm
from loanbridge.workflow.domain import loans as rules
from loanbridge.workflow.handlers import tasks
from loanbridge.workflow.handlers.cases import case_in_scope, get_case, move_by_system, record
from loanbridge.workflow.views import json_number

DISBURSABLE = ("contract",)
RELOAN_AFTER = timedelta(days=91)  # a re-loan follow-up three months after settlement


def _money(value: Any) -> Decimal:
    return rules.to_fen(Decimal(str(value)))


def build_schedule(terms: dict[str, Any]) -> list[rules.Installment]:
    """The repayment schedule of a loan's terms (pure: the domain's builders)."""
    method = rules.RepaymentMethod(terms["method"])
    principal = _money(terms["principal"])
    if method is rules.RepaymentMethod.EXPLICIT:
        lines = terms.get("schedule") or []
        return rules.explicit_schedule(
            principal=principal,
            lines=[(line["due_date"], _money(line["principal"]), _money(line["interest"])) for line in lines],
        )
    if terms.get("schedule"):
        raise InvalidInput.for_field("schedule", "只有自定义还款方式可以提供还款计划")
    if terms.get("first_due_date") is None:
        raise InvalidInput.for_field("first_due_date", "请填写首期还款日")
    return rules.SCHEDULE_BUILDERS[method](
        principal=principal,
        annual_rate=Decimal(str(terms["annual_rate"])),
        term_months=terms["term_months"],
        first_due_date=terms["first_due_date"],
    )


def disburse(uow: UnitOfWork, *, principal: Principal, case_id: str, terms: dict[str, Any]) -> dict[str, Any]:
    """Record a disbursement of a case in 合同签署: the loan and its schedule, ``workflow.loan.disbursed``."""
    case = case_in_scope(uow, principal, case_id, for_update=True)
    if case.stage not in DISBURSABLE:
        raise Conflict("只有合同签署阶段的案件可以放款", code="case_not_in_contract", details={"stage": case.stage})
    schedule = build_schedule(terms)
    now = clock.now()
    loan = {
        "id": str(uuid.uuid4()),
        "case_id": case.id,
        "customer_id": case.customer_id,
        "lender": terms["lender"],
        "lender_product": terms["lender_product"],
        "principal": _money(terms["principal"]),
        "annual_rate": Decimal(str(terms["annual_rate"])),
        "term_months": len(schedule),
        "commission": _money(terms.get("commission") or 0),
        "method": terms["method"],
        "disbursed_at": naive_utc(terms.get("disbursed_at") or now),
        "disbursed_by": principal.subject,
        "settled_at": None,
    }
    uow.session.execute(orm.loans.insert(), loan)
    uow.session.execute(
        orm.installments.insert(),
        [
            {"loan_id": loan["id"], "installment": line.installment, "due_date": line.due_date,
             "principal": line.principal, "interest": line.interest, "amount": line.amount,
             "paid_amount": Decimal("0.00"), "paid_at": None, "overdue_checked_on": None}
            for line in schedule
        ],
    )  # fmt: skip
    record(uow, case_id=case.id, kind="loan", actor=principal.subject, to_value="disbursed", reason=loan["lender"])
    uow.emit(
        "workflow.loan.disbursed",
        subject=loan["id"],
        data={
            "case_id": case.id,
            "customer_id": case.customer_id,
            "loan_id": loan["id"],
            "lender": loan["lender"],
            "lender_product": loan["lender_product"],
            "principal": json_number(loan["principal"]),
            "annual_rate": json_number(loan["annual_rate"]),
            "term_months": loan["term_months"],
            "commission": json_number(loan["commission"]),
            "method": loan["method"],
            "disbursed_at": clock.isoformat(loan["disbursed_at"]),
            "schedule": [_line(line) for line in schedule],
        },
    )
    move_by_system(uow, case=get_case(uow, case.id), to="disbursed", reason="已放款")
    return read_loan(uow, principal=principal, loan_id=loan["id"])


def _line(line: rules.Installment) -> dict[str, Any]:
    return {
        "installment": line.installment,
        "due_date": line.due_date.isoformat(),
        "principal": json_number(line.principal),
        "interest": json_number(line.interest),
        "amount": json_number(line.amount),
    }


def _loan(uow: UnitOfWork, loan_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(orm.loans).where(orm.loans.c.id == loan_id)
    row = uow.session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound("贷款不存在")
    return row


def _installments(uow: UnitOfWork, loan_id: str) -> list[Any]:
    table = orm.installments
    return list(
        uow.session.execute(sa.select(table).where(table.c.loan_id == loan_id).order_by(table.c.installment)).all()
    )


def read_loan(uow: UnitOfWork, *, principal: Principal, loan_id: str) -> dict[str, Any]:
    """A loan with its schedule and what has been repaid (404 outside the caller's scope of cases)."""
    loan = _loan(uow, loan_id)
    if principal.roles != {"service"}:
        case_in_scope(uow, principal, loan.case_id)
    lines = _installments(uow, loan_id)
    return {
        "id": loan.id,
        "case_id": loan.case_id,
        "customer_id": loan.customer_id,
        "lender": loan.lender,
        "lender_product": loan.lender_product,
        "principal": json_number(loan.principal),
        "annual_rate": json_number(loan.annual_rate),
        "term_months": loan.term_months,
        "commission": json_number(loan.commission),
        "method": loan.method,
        "disbursed_at": clock.as_utc(loan.disbursed_at),
        "settled_at": clock.as_utc(loan.settled_at) if loan.settled_at else None,
        "outstanding_principal": json_number(_outstanding(lines)),
        "schedule": [
            {
                "installment": line.installment,
                "due_date": line.due_date,
                "principal": json_number(line.principal),
                "interest": json_number(line.interest),
                "amount": json_number(line.amount),
                "paid_amount": json_number(line.paid_amount),
                "paid_at": clock.as_utc(line.paid_at) if line.paid_at else None,
            }
            for line in lines
        ],
    }


def _outstanding(lines: list[Any]) -> Decimal:
    return sum((_money(line.principal) for line in lines if line.paid_at is None), Decimal("0.00"))


def record_repayment(
    uow: UnitOfWork, *, principal: Principal, loan_id: str, repayment: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Record a repayment from the finance system, once per reference: the same reference again answers the first
    result (True: a replay); with different values it is a 409. Full repayment settles the loan."""
    loan = _loan(uow, loan_id, for_update=True)
    digest = request_hash({key: repayment[key] for key in ("installment", "amount", "paid_at")})
    table = orm.repayments
    existing = uow.session.execute(
        sa.select(table).where(table.c.loan_id == loan_id, table.c.reference == repayment["reference"])
    ).first()
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict("该还款流水号已用于不同的还款", code="repayment_reference_reused")
        return _repayment_answer(existing._mapping), True
    line = next((line for line in _installments(uow, loan_id) if line.installment == repayment["installment"]), None)
    if line is None:
        raise InvalidInput.for_field("installment", "期数不存在")
    amount = _money(repayment["amount"])
    remaining = _money(line.amount) - _money(line.paid_amount)
    if amount > remaining:
        raise InvalidInput.for_field("amount", "还款金额超过该期应还金额")
    paid_at: datetime = repayment["paid_at"]
    row = {
        "id": str(uuid.uuid4()), "loan_id": loan_id, "reference": repayment["reference"],
        "installment": line.installment, "amount": amount, "paid_at": naive_utc(paid_at), "request_hash": digest,
        "recorded_by": principal.subject, "recorded_at": naive_utc(clock.now()),
    }  # fmt: skip
    uow.session.execute(table.insert(), row)
    paid_amount = _money(line.paid_amount) + amount
    installments = orm.installments
    uow.session.execute(
        installments.update()
        .where(installments.c.loan_id == loan_id, installments.c.installment == line.installment)
        .values(paid_amount=paid_amount, paid_at=naive_utc(paid_at) if paid_amount >= _money(line.amount) else None)
    )
    uow.emit(
        "workflow.repayment.recorded",
        subject=loan_id,
        data={
            "loan_id": loan_id, "case_id": loan.case_id, "customer_id": loan.customer_id,
            "installment": line.installment, "reference": repayment["reference"], "paid_at": clock.isoformat(paid_at),
            "amount": json_number(amount),
        },
        occurred_at=paid_at,
    )  # fmt: skip
    if all(item.paid_at is not None for item in _installments(uow, loan_id)):
        _settle(uow, loan, settled_at=paid_at)
    return _repayment_answer(row), False


def _settle(uow: UnitOfWork, loan: Any, *, settled_at: datetime) -> None:
    uow.session.execute(orm.loans.update().where(orm.loans.c.id == loan.id).values(settled_at=naive_utc(settled_at)))
    uow.emit(
        "workflow.loan.settled",
        subject=loan.id,
        data={"loan_id": loan.id, "case_id": loan.case_id, "customer_id": loan.customer_id,
              "settled_at": clock.isoformat(settled_at)},
        occurred_at=settled_at,
    )  # fmt: skip
    case = get_case(uow, loan.case_id)
    move_by_system(uow, case=case, to="settled", reason="贷款已结清")
    case = get_case(uow, loan.case_id)
    if case.assignee_id is not None:
        tasks.create_task(
            uow, case=case, kind="reloan_followup", title="结清满三个月,回访客户续贷需求", assignee_id=case.assignee_id,
            due_at=clock.as_utc(settled_at) + RELOAN_AFTER, escalate_to=None,
        )  # fmt: skip


def _repayment_answer(row: Any) -> dict[str, Any]:
    data = dict(row)
    return {
        "id": data["id"],
        "loan_id": data["loan_id"],
        "reference": data["reference"],
        "installment": data["installment"],
        "amount": json_number(data["amount"]),
        "paid_at": clock.as_utc(data["paid_at"]),
    }


def mark_overdue(uow: UnitOfWork, *, limit: int) -> int:
    """The daily overdue check: each unpaid installment past its due date (business days) emits
    ``workflow.loan.overdue`` once per business day, with days past due and the outstanding principal."""
    now = clock.now()
    today: date = clock.business_date(now)
    table = orm.installments
    rows = uow.session.execute(
        sa.select(table)
        .where(
            table.c.paid_at.is_(None),
            table.c.due_date < today,
            sa.or_(table.c.overdue_checked_on.is_(None), table.c.overdue_checked_on < today),
        )
        .order_by(table.c.due_date, table.c.loan_id, table.c.installment)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        loan = _loan(uow, row.loan_id)
        uow.session.execute(
            table.update()
            .where(table.c.loan_id == row.loan_id, table.c.installment == row.installment)
            .values(overdue_checked_on=today)
        )
        uow.emit(
            "workflow.loan.overdue",
            subject=row.loan_id,
            data={
                "loan_id": row.loan_id, "case_id": loan.case_id, "customer_id": loan.customer_id,
                "installment": row.installment, "due_date": row.due_date.isoformat(),
                "days_past_due": rules.days_past_due(row.due_date, now=now),
                "amount_due": json_number(_money(row.amount) - _money(row.paid_amount)),
                "outstanding_principal": json_number(_outstanding(_installments(uow, row.loan_id))),
            },
        )  # fmt: skip
    return len(rows)
