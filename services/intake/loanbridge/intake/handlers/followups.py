"""Follow-ups: each contact with a customer (call, visit, WeChat, SMS), its outcome, the customer's intent level
and when to follow up next; published as ``intake.followup.logged`` for reminders, grades and KPIs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm, views
from loanbridge.intake.config import IntakeConfig


def log_followup(
    uow: UnitOfWork,
    *,
    config: IntakeConfig,
    principal: Principal,
    lead_id: str,
    method: str,
    outcome: str,
    intent_level: str | None,
    note: str | None,
    contacted_at: datetime | None,
    next_followup_at: datetime | None,
) -> dict[str, Any]:
    """Record a contact with the customer of a lead in the caller's scope."""
    session = uow.session
    lead = orm.lead_by_id(session, lead_id)
    if lead is None or principal.is_partner or not views.lead_in_scope(uow, principal, lead):
        raise NotFound("线索不存在")
    key = config.vault.key_for_sealing(session, lead.customer_id)
    if key is None and note:
        raise Conflict("该客户的个人信息已删除,不能记录备注", code="customer_erased")
    now = naive_utc(clock.now())
    row = {
        "id": str(uuid.uuid4()),
        "lead_id": lead_id,
        "customer_id": lead.customer_id,
        "user_id": principal.subject,
        "method": method,
        "outcome": outcome,
        "intent_level": intent_level,
        "note_enc": key.seal("followup.note", note) if key and note else None,
        "contacted_at": naive_utc(contacted_at or clock.now()),
        "next_followup_at": naive_utc(next_followup_at) if next_followup_at else None,
        "created_at": now,
    }
    session.execute(orm.followups.insert(), row)
    if intent_level:
        session.execute(orm.leads.update().where(orm.leads.c.id == lead_id).values(intent_level=intent_level))
    uow.emit(
        "intake.followup.logged",
        subject=lead_id,
        occurred_at=clock.as_utc(row["contacted_at"]),
        data={
            "lead_id": lead_id,
            "customer_id": lead.customer_id,
            "user_id": principal.subject,
            "method": method,
            "outcome": outcome,
            "intent_level": intent_level,
            "next_followup_at": clock.isoformat(next_followup_at) if next_followup_at else None,
        },
    )
    return views.followup_answer(orm.followup_by_id(session, row["id"]), key, unmask=False)
