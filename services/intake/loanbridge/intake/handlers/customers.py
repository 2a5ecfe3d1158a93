"""Customers as people: reading one (personal data in clear only on request, and audited), recording consent to
data processing (PIPL), and erasing a person (crypto-shredding) while keeping the anonymous facts."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, Forbidden, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm, views
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain import scope
from loanbridge.intake.handlers.leads import customer_event_data

ERASED_NAME = "(已删除)"


def read_customer(
    uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, customer_id: str, unmask: bool
) -> dict[str, Any]:
    """The customer 360; asking for personal data in clear needs a role allowed to, and leaves an audit record."""
    if unmask and not scope.may_unmask(principal):
        raise Forbidden("没有查看完整个人信息的权限", code="unmask_forbidden")
    answer = views.customer_360(uow, config=config, principal=principal, customer_id=customer_id, unmask=unmask)
    if unmask:
        shown = [name for name in views.PERSONAL_FIELDS if answer.get(name)]
        if not answer["erased"]:
            shown += _sealed_values_shown(uow, customer_id)
        uow.audit(actor=principal.subject, action="unmask_customer", resource=f"customer:{customer_id}", fields=shown)
    return answer


AUDIT_FIELDS_LENGTH = 255  # access_audit.fields


def _sealed_values_shown(uow: UnitOfWork, customer_id: str) -> list[str]:
    """Which sealed values an unmasked 360 shows besides the person's own fields: x-pii form fields
    (``form.<name>``) and follow-up notes (``followup.note``). Names only, never values."""
    forms = uow.session.execute(sa.select(orm.leads.c.form).where(orm.leads.c.customer_id == customer_id)).scalars()
    names = sorted(
        {f"form.{name}" for form in forms for name, value in json.loads(form).items()
         if isinstance(value, str) and value.startswith("s1.")}
    )  # fmt: skip
    if len(",".join(names)) > AUDIT_FIELDS_LENGTH // 2:
        names = ["form.*"]
    noted = uow.session.execute(
        sa.select(orm.followups.c.id)
        .where(orm.followups.c.customer_id == customer_id, orm.followups.c.note_enc.is_not(None))
        .limit(1)
    ).first()
    return names + (["followup.note"] if noted else [])


def record_consent(
    uow: UnitOfWork, *, principal: Principal, customer_id: str, channel: str, purpose: str, given_at: datetime | None
) -> dict[str, Any]:
    """Record that the person agreed to the processing of their data: when, through which channel, for what."""
    customer = _visible_customer(uow, principal, customer_id)
    if customer.erased_at is not None:
        raise Conflict("该客户的个人信息已删除", code="customer_erased")
    at = naive_utc(given_at or clock.now())
    uow.session.execute(
        orm.consents.insert(),
        {
            "id": str(uuid.uuid4()),
            "customer_id": customer_id,
            "given_at": at,
            "channel": channel,
            "scope": purpose,
            "recorded_by": principal.subject,
        },
    )
    uow.session.execute(
        orm.customers.update()
        .where(orm.customers.c.id == customer_id)
        .values(consent_at=at, consent_channel=channel, updated_at=naive_utc(clock.now()))
    )
    return {"customer_id": customer_id, "given_at": clock.as_utc(at), "channel": channel, "purpose": purpose}


def erase_customer(uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, customer_id: str) -> dict[str, Any]:
    """Erase a person: their key is destroyed (every sealed value and document becomes unreadable), the
    ciphertexts and lookup indexes are cleared, documents deleted from storage. Leads, amounts, products,
    channels and cities stay, as anonymous facts."""
    session = uow.session
    customer = orm.customer_by_id(session, customer_id)
    if customer is None:
        raise NotFound("客户不存在")
    if customer.erased_at is not None:
        return {"customer_id": customer_id, "erased_at": clock.as_utc(customer.erased_at)}
    now = naive_utc(clock.now())
    config.vault.shred(session, customer_id)
    session.execute(
        orm.customers.update()
        .where(orm.customers.c.id == customer_id)
        .values(
            name_enc="",
            masked_name=ERASED_NAME,
            mobile_enc=None,
            mobile_bidx=None,
            id_number_enc=None,
            id_number_bidx=None,
            address_enc=None,
            birth_date=None,
            gender=None,
            erased_at=now,
            updated_at=now,
        )
    )
    session.execute(orm.followups.update().where(orm.followups.c.customer_id == customer_id).values(note_enc=None))
    _delete_documents(uow, config, customer_id, now)
    uow.audit(
        actor=principal.subject,
        action="erase_customer",
        resource=f"customer:{customer_id}",
        fields=list(views.PERSONAL_FIELDS),
    )
    erased = orm.customer_by_id(session, customer_id)
    uow.emit("intake.customer.updated", subject=customer_id, data=customer_event_data(erased))
    return {"customer_id": customer_id, "erased_at": clock.as_utc(now)}


def _delete_documents(uow: UnitOfWork, config: IntakeConfig, customer_id: str, now: datetime) -> None:
    rows = uow.session.execute(
        sa.select(orm.documents.c.id, orm.documents.c.storage_key).where(
            orm.documents.c.customer_id == customer_id, orm.documents.c.erased_at.is_(None)
        )
    ).all()
    for row in rows:
        if config.documents is not None:
            config.documents.delete(row.storage_key)
    uow.session.execute(orm.documents.update().where(orm.documents.c.customer_id == customer_id).values(erased_at=now))


def record_opt_out(uow: UnitOfWork, *, principal: Principal, customer_id: str) -> dict[str, Any]:
    """The customer asked for no more marketing messages (退订); notify reads it at send time."""
    _visible_customer(uow, principal, customer_id)
    now = naive_utc(clock.now())
    uow.session.execute(
        orm.customers.update()
        .where(orm.customers.c.id == customer_id, orm.customers.c.opt_out_at.is_(None))
        .values(opt_out_at=now, updated_at=now)
    )
    uow.audit(actor=principal.subject, action="record_opt_out", resource=f"customer:{customer_id}")
    return {"customer_id": customer_id, "opt_out": True}


def customer_contacts(uow: UnitOfWork, *, config: IntakeConfig, caller: str, customer_id: str) -> dict[str, Any]:
    """The mobile and opt-out state of a customer, for notify at send time (service clients only; audited)."""
    customer = orm.customer_by_id(uow.session, customer_id)
    if customer is None:
        raise NotFound("客户不存在")
    key = config.vault.key(uow.session, customer_id)
    mobile = key.open("mobile", customer.mobile_enc) if key and customer.mobile_enc else None
    uow.audit(actor=caller, action="read_customer_contacts", resource=f"customer:{customer_id}", fields=["mobile"])
    return {"customer_id": customer_id, "mobile": mobile, "opt_out": customer.opt_out_at is not None}


def _visible_customer(uow: UnitOfWork, principal: Principal, customer_id: str) -> Any:
    customer = orm.customer_by_id(uow.session, customer_id)
    if customer is None:
        raise NotFound("客户不存在")
    submitters = uow.session.execute(
        sa.select(orm.leads.c.submitted_by).where(orm.leads.c.customer_id == customer_id)
    ).scalars()
    if not scope.sees_customer(
        principal, owner_id=customer.owner_id, owner_team_id=customer.owner_team_id, submitters=list(submitters)
    ):
        raise NotFound("客户不存在")
    return customer
