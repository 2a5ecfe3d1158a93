"""Submitting an application: the lead's values checked against its form, then ``intake.application.submitted``
with what risk reviews (amount, term, channel, city, risk features including age and blacklisted, the documents
present and required). Completeness is judged by risk, whose rules name what is missing."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm, views
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain.leads import money
from loanbridge.intake.handlers.blacklist import is_blacklisted
from loanbridge.intake.handlers.products import form_version


def submit_application(uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, lead_id: str) -> dict[str, Any]:
    """Submit a lead's application for review (again after a supplement: each submission is reviewed)."""
    session = uow.session
    lead = orm.lead_by_id(session, lead_id)
    if lead is None or not views.lead_in_scope(uow, principal, lead):
        raise NotFound("线索不存在")
    customer = orm.customer_by_id(session, lead.customer_id)
    key = config.vault.key(session, lead.customer_id)
    if key is None:
        raise Conflict("该客户的个人信息已删除,不能提交申请", code="customer_erased")
    form = form_version(session, lead.product, lead.form_version)
    values = {
        name: json.loads(key.open(f"form.{name}", value)) if name in form.pii_fields else value
        for name, value in json.loads(lead.form).items()
    }
    problems = form.errors_in_values(values)
    if problems:
        raise InvalidInput(details={"fields": {"form": problems}})
    documents = sorted(
        set(
            session.execute(
                sa.select(orm.documents.c.doc_type).where(
                    orm.documents.c.lead_id == lead_id, orm.documents.c.erased_at.is_(None)
                )
            ).scalars()
        )
    )
    now = naive_utc(clock.now())
    session.execute(orm.leads.update().where(orm.leads.c.id == lead_id).values(submitted_at=now, updated_at=now))
    features = {
        **form.features_of(values),
        "age": views.age_on(customer.birth_date, clock.business_date(clock.now())),
        "blacklisted": is_blacklisted(
            session, id_number_bidx=customer.id_number_bidx, mobile_bidx=customer.mobile_bidx
        ),
    }
    data = {
        "lead_id": lead.id,
        "customer_id": lead.customer_id,
        "product": lead.product,
        "form_version": lead.form_version,
        "amount": money(lead.amount),
        "term_months": lead.term_months,
        "channel": lead.channel,
        "city": lead.city,
        "features": features,
        "documents": documents,
        "required_documents": form.required_documents,
        "missing_fields": [name for name in form.required_fields if values.get(name) in (None, "")],
    }
    uow.emit("intake.application.submitted", subject=lead.id, data=data)
    return {**data, "submitted_at": clock.as_utc(now)}
