"""Customer grades (A / B / C) for follow-up cadence, from the first contact on: the published rule set's grade
table runs on each new lead and follow-up with what is known then, and a full evaluation re-grades.
``risk.customer.graded`` is published only when a customer's grade changes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import NotFound
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.config import RiskConfig
from loanbridge.risk.domain import applications, scope
from loanbridge.risk.domain.engine import EvaluationFailed
from loanbridge.risk.handlers import owners, rulesets


def on_lead_created(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.lead.created``: remember the lead and grade its customer with what is known now."""
    data, when = event.data, clock.parse_iso(event.time)
    lead = {
        "lead_id": data["lead_id"],
        "customer_id": data["customer_id"],
        "product": data["product"],
        "amount": data.get("amount"),
        "term_months": data.get("term_months"),
        "channel": data.get("channel"),
        "city": data.get("city"),
        "features": json.dumps(data.get("features") or {}, ensure_ascii=False),
        "intent_level": None,
        "changed_at": naive_utc(when),
    }
    known = orm.lead(uow.session, data["lead_id"])
    if known is None:
        uow.session.execute(orm.leads.insert(), lead)
    _grade_lead(uow, uow.config, lead if known is None else known._mapping, when)


def on_followup_logged(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.followup.logged``: a new intent level re-grades the customer."""
    data, when = event.data, clock.parse_iso(event.time)
    lead = orm.lead(uow.session, data["lead_id"])
    if lead is None:
        raise NotYet("lead not known yet")
    intent_level = lead.intent_level
    if data.get("intent_level"):
        updated = uow.session.execute(
            orm.leads.update()
            .where(orm.leads.c.lead_id == data["lead_id"], orm.leads.c.changed_at <= naive_utc(when))
            .values(intent_level=data["intent_level"], changed_at=naive_utc(when))
        )
        if updated.rowcount == 1:  # type: ignore[attr-defined]
            intent_level = data["intent_level"]
    _grade_lead(uow, uow.config, {**lead._mapping, "intent_level": intent_level}, when)


def _grade_lead(uow: UnitOfWork, config: RiskConfig, lead: Mapping[str, Any], when: datetime) -> None:
    """Grade the lead's customer with what is known of the lead (a row of ``leads``)."""
    found = rulesets.compiled(uow.session, config, lead["product"])
    if found is None:
        return
    facts = {**lead, "features": json.loads(lead["features"]), "amount": _number(lead["amount"])}
    try:
        assessment = found[1].assess(applications.from_lead(facts, lead["intent_level"]))
    except EvaluationFailed:
        return  # the grade stays as it was; the full evaluation will tell a person
    if assessment.grade:
        reasons = [assessment.grade_reason] if assessment.grade_reason else []
        set_grade(uow, lead["customer_id"], lead["lead_id"], assessment.grade, reasons, when)


def set_grade(uow: UnitOfWork, customer_id: str, lead_id: str, grade: str, reasons: list[str], when: datetime) -> None:
    """Record a customer's grade as of ``when``; publish ``risk.customer.graded`` when it changed."""
    current = orm.customer_grade(uow.session, customer_id)
    if current is not None and clock.as_utc(current.graded_at) > clock.as_utc(when):
        return  # a newer grade is already known
    values = {
        "grade": grade,
        "lead_id": lead_id,
        "reasons": json.dumps(reasons, ensure_ascii=False),
        "graded_at": naive_utc(when),
    }
    if current is None:
        uow.session.execute(orm.customer_grades.insert(), {"customer_id": customer_id, **values})
    else:
        uow.session.execute(
            orm.customer_grades.update().where(orm.customer_grades.c.customer_id == customer_id).values(**values)
        )
    previous = current.grade if current is not None else None
    if previous == grade:
        return
    uow.emit(
        "risk.customer.graded",
        subject=customer_id,
        occurred_at=when,
        data={
            "customer_id": customer_id,
            "lead_id": lead_id,
            "grade": grade,
            "previous_grade": previous,
            "reasons": reasons,
        },
    )


def read_grade(uow: UnitOfWork, *, config: RiskConfig, principal: Principal, customer_id: str) -> dict[str, Any]:
    """A customer's grade; one never graded counts as the configured default grade. Outside the caller's scope it
    is a 404, as if risk had never seen the customer."""
    if not scope.sees_customer(principal, owners.owner_of(uow, customer_id)):
        raise NotFound("客户不存在")
    row = orm.customer_grade(uow.session, customer_id)
    if row is None:
        known = uow.session.execute(sa.select(orm.leads.c.lead_id).where(orm.leads.c.customer_id == customer_id))
        if known.first() is None:
            raise NotFound("客户不存在")
        return {
            "customer_id": customer_id,
            "grade": config.default_grade,
            "graded": False,
            "reasons": [],
            "graded_at": None,
        }
    return {
        "customer_id": customer_id,
        "grade": row.grade,
        "graded": True,
        "reasons": json.loads(row.reasons),
        "graded_at": clock.as_utc(row.graded_at),
    }


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None
