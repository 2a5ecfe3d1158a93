"""Leads from staff and partners, and the customer behind each: dedupe, personal data sealed with the
customer's own key, the product form's values checked and their risk features shared."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, InvalidInput
from loanbridge.common.pii.masking import mask_mobile, mask_name
from loanbridge.common.pii.validators import id_number_facts
from loanbridge.common.pii.vault import SubjectKey
from loanbridge.common.uow import UnitOfWork, naive_utc, request_hash
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain.forms import FormDefinition
from loanbridge.intake.domain.leads import duplicate_outcome, money
from loanbridge.intake.handlers.products import emit_product_published, form_version, published_form
from loanbridge.intake.views import lead_answer, stored_lead_answer

LEAD_CREATED_STATUS = 201


@dataclass(frozen=True)
class LeadAnswer:
    """What a submitter is told; ``replayed`` when it is the stored answer to an earlier identical request."""

    body: dict[str, Any]
    replayed: bool = False


def submitter_scope(principal: Principal) -> str:
    """Whose namespace an ``external_ref`` or idempotency key lives in: the partner's, or the staff member's."""
    return f"partner:{principal.partner_id}" if principal.partner_id else f"user:{principal.subject}"


def _now() -> datetime:
    return naive_utc(clock.now())


def _lead_channel(uow: UnitOfWork, config: IntakeConfig, principal: Principal, requested: str | None) -> str:
    if principal.partner_id:
        own = config.channels.get(
            ("partner", principal.partner_id), lambda: orm.channel_of_partner(uow.session, principal.partner_id)
        )
        if own is None:
            raise InvalidInput.for_field("channel", "该合作方尚未配置渠道,请联系管理员")
        if requested not in (None, own.code):
            raise InvalidInput.for_field("channel", "合作方只能提交自己渠道的线索")
        return own.code
    if requested is None:
        raise InvalidInput.for_field("channel", "此字段为必填项")
    channel = config.channels.get(("code", requested), lambda: orm.channel_by_code(uow.session, requested))
    if channel is None or not channel.active:
        raise InvalidInput.for_field("channel", "渠道不存在或已停用")
    return channel.code


# --- leads --------------------------------------------------------------------------------------------------
def submit_lead(
    uow: UnitOfWork,
    *,
    config: IntakeConfig,
    principal: Principal,
    lead: dict[str, Any],
    idempotency_key: str | None,
    occurred_at: datetime | None = None,
) -> LeadAnswer:
    """Accept a lead: link it to its customer (or create one) and write it with its events, all or nothing.

    A replay of the same request (same ``external_ref`` or ``Idempotency-Key``, same body) answers the first
    result; the same key with a different body is a 409. ``occurred_at`` dates a lead taken from an older record
    (an import) in business time.
    """
    scope, fingerprint = submitter_scope(principal), request_hash(lead)
    if idempotency_key:
        stored = uow.find_idempotent_response(scope=scope, key=idempotency_key, request_hash=fingerprint)
        if stored is not None:
            return LeadAnswer(body=stored[1], replayed=True)
    if lead.get("external_ref"):
        earlier = orm.lead_by_external_ref(uow.session, scope, lead["external_ref"])
        if earlier is not None:
            if earlier.request_hash != fingerprint:
                raise Conflict("该 external_ref 已用于不同的线索", code="external_ref_reused")
            return LeadAnswer(body=stored_lead_answer(uow, config, earlier), replayed=True)

    if lead["city"] not in config.cities:
        raise InvalidInput.for_field("city", "城市不在服务范围内")
    form = published_form(uow.session, config, lead["product"])
    values = lead.get("form") or {}
    problems = form.definition.errors_in_values(values)
    if problems:
        raise InvalidInput(details={"fields": {"form": problems}})
    channel = _lead_channel(uow, config, principal, lead.get("channel"))
    customer, key, is_new = _find_or_create_customer(uow, config, lead, channel, occurred_at)
    outcome = duplicate_outcome(
        customer_is_new=is_new, owner_id=customer.get("owner_id"), submitter_id=principal.subject
    )
    now = naive_utc(occurred_at) if occurred_at else _now()
    row = SimpleNamespace(
        id=str(uuid.uuid4()),
        customer_id=customer["id"],
        product=lead["product"],
        amount=lead["amount"],
        term_months=lead["term_months"],
        purpose=lead.get("purpose"),
        channel=channel,
        city=lead["city"],
        partner_id=principal.partner_id,
        submitted_by=principal.subject,
        submitter_scope=scope,
        external_ref=lead.get("external_ref"),
        request_hash=fingerprint,
        duplicate_outcome=outcome.value,
        form=json.dumps(seal_form(form.definition, key, values), ensure_ascii=False),
        form_version=form.version,
        created_at=now,
        updated_at=now,
    )
    uow.session.execute(orm.leads.insert(), vars(row))
    uow.emit(
        "intake.lead.created",
        subject=row.id,
        data=lead_event_data(row, form.definition.features_of(values)),
        occurred_at=occurred_at,
    )
    masked_mobile = mask_mobile(lead["mobile"]) if lead.get("mobile") else ""
    body = lead_answer(row, masked_name=customer["masked_name"], masked_mobile=masked_mobile)
    if idempotency_key:
        uow.save_idempotent_response(
            scope=scope,
            key=idempotency_key,
            request_hash=fingerprint,
            status=LEAD_CREATED_STATUS,
            response=body,
        )
    return LeadAnswer(body=body)


def seal_form(form: FormDefinition, key: SubjectKey, values: dict[str, Any]) -> dict[str, Any]:
    """The form values as stored: the fields marked ``x-pii`` sealed with the customer's key."""
    return {
        name: key.seal(f"form.{name}", json.dumps(value, ensure_ascii=False)) if name in form.pii_fields else value
        for name, value in values.items()
    }


def _find_or_create_customer(
    uow: UnitOfWork, config: IntakeConfig, lead: dict[str, Any], channel: str, occurred_at: datetime | None
) -> tuple[dict[str, Any], SubjectKey, bool]:
    """The person behind a lead, by ID number first, then by mobile; a new customer if neither is known.

    Two first leads of one new person racing each other collide on the blind-index unique keys; the loser's
    transaction is re-run and then finds the winner's customer.
    """
    session = uow.session
    id_index = config.blind_index.of("id_number", lead["id_number"]) if lead.get("id_number") else None
    mobile_index = config.blind_index.of("mobile", lead["mobile"]) if lead.get("mobile") else None
    found = orm.customer_by_indexes(session, id_number_bidx=id_index, mobile_bidx=mobile_index)
    if found is not None:
        key = config.vault.key_for_sealing(session, found.id)
        if key is None:
            raise Conflict("该客户的个人信息已按要求删除,不能再关联新线索", code="customer_erased")
        if id_index and found.id_number_bidx is None:
            # Known by mobile only so far: keep the ID number, or a later lead under another mobile would
            # become a second customer for the same person.
            session.execute(
                orm.customers.update()
                .where(orm.customers.c.id == found.id)
                .values(
                    id_number_enc=key.seal("id_number", lead["id_number"]),
                    id_number_bidx=id_index,
                    **identity_facts(lead["id_number"]),
                    updated_at=_now(),
                )
            )
        return dict(found._mapping), key, False
    customer_id, now = str(uuid.uuid4()), naive_utc(occurred_at) if occurred_at else _now()
    key = config.vault.create(session, customer_id, now=clock.now())
    customer = {
        "id": customer_id,
        "name_enc": key.seal("name", lead["name"]),
        "masked_name": mask_name(lead["name"]),
        "mobile_enc": key.seal("mobile", lead["mobile"]) if mobile_index else None,
        "mobile_bidx": mobile_index,
        "id_number_enc": key.seal("id_number", lead["id_number"]) if id_index else None,
        "id_number_bidx": id_index,
        "city": lead["city"],
        "channel": channel,
        "created_at": now,
        "updated_at": now,
        **(identity_facts(lead["id_number"]) if id_index else {}),
    }
    session.execute(orm.customers.insert(), customer)
    uow.emit(
        "intake.customer.created",
        subject=customer_id,
        data=customer_event_data(SimpleNamespace(**customer)),
        occurred_at=occurred_at,
    )
    return customer, key, True


def identity_facts(id_number: str) -> dict[str, Any]:
    """Birth date and gender, derived from the ID number (age is derived from the birth date when read)."""
    facts = id_number_facts(id_number, today=clock.business_date(clock.now()))
    return {"birth_date": facts.birth_date, "gender": facts.gender}


def lead_event_data(row: Any, features: dict[str, Any]) -> dict[str, Any]:
    """``intake.lead.created`` / ``.updated``: ids, business facts and risk features; no personal data."""
    return {
        "lead_id": row.id,
        "customer_id": row.customer_id,
        "product": row.product,
        "amount": money(row.amount),
        "term_months": row.term_months,
        "purpose": row.purpose,
        "channel": row.channel,
        "partner_id": row.partner_id,
        "city": row.city,
        "submitted_by": row.submitted_by,
        "duplicate_outcome": row.duplicate_outcome,
        "features": features,
        "created_at": clock.isoformat(row.created_at),
    }


def customer_event_data(row: Any) -> dict[str, Any]:
    return {"customer_id": row.id, "masked_name": row.masked_name, "city": row.city, "channel": row.channel}


def stored_features(session: Any, row: Any) -> dict[str, Any]:
    """A stored lead's risk features, by the form version it was filled with (never a sealed field)."""
    if row.form_version is None:
        return {}
    return form_version(session, row.product, row.form_version).features_of(json.loads(row.form))


def emit_snapshots(uow: UnitOfWork) -> int:
    """Re-emit every published product form, customer and lead, for consumers that arrived late."""
    count = 0
    forms = orm.product_forms
    for row in uow.session.execute(sa.select(forms).where(forms.c.status == "published").order_by(forms.c.product)):
        definition = FormDefinition(json.loads(row.definition))
        emit_product_published(uow, product=row.product, version=row.version, definition=definition)
        count += 1
    for row in uow.session.execute(sa.select(orm.customers).order_by(orm.customers.c.created_at)):
        uow.emit("intake.customer.updated", subject=row.id, data=customer_event_data(row))
        count += 1
    for row in uow.session.execute(sa.select(orm.leads).order_by(orm.leads.c.created_at)):
        uow.emit("intake.lead.updated", subject=row.id, data=lead_event_data(row, stored_features(uow.session, row)))
        count += 1
    return count
