"""Read-side queries of intake's GET endpoints, and the shapes answers take."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import NotFound
from loanbridge.common.pagination import Page, after_cursor, page
from loanbridge.common.pii.masking import mask_id_number, mask_mobile
from loanbridge.common.pii.vault import SubjectKey
from loanbridge.common.uow import UnitOfWork
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain import scope
from loanbridge.intake.domain.leads import money


def lead_answer(row: Any, *, masked_name: str, masked_mobile: str) -> dict[str, Any]:
    """A lead as its submitter sees it: personal data masked."""
    return {
        "id": row.id,
        "customer_id": row.customer_id,
        "duplicate_outcome": row.duplicate_outcome,
        "name": masked_name,
        "mobile": masked_mobile,
        "product": row.product,
        "amount": money(row.amount),
        "term_months": row.term_months,
        "purpose": row.purpose,
        "city": row.city,
        "channel": row.channel,
        "external_ref": row.external_ref,
        "created_at": clock.isoformat(row.created_at),
    }


def stored_lead_answer(uow: UnitOfWork, config: IntakeConfig, row: Any) -> dict[str, Any]:
    """The answer for a stored lead, its customer's contacts masked."""
    customer = orm.customer_by_id(uow.session, row.customer_id)
    key = config.vault.key(uow.session, row.customer_id)
    mobile = key.open("mobile", customer.mobile_enc) if key and customer.mobile_enc else ""
    return lead_answer(row, masked_name=customer.masked_name, masked_mobile=mask_mobile(mobile) if mobile else "")


def read_lead(uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, lead_id: str) -> dict[str, Any]:
    """A lead in the caller's scope; outside it, 404 as if it did not exist."""
    row = orm.lead_by_id(uow.session, lead_id)
    if row is None or not lead_in_scope(uow, principal, row):
        raise NotFound("线索不存在")
    return stored_lead_answer(uow, config, row)


def lead_in_scope(uow: UnitOfWork, principal: Principal, row: Any) -> bool:
    customer = orm.customer_by_id(uow.session, row.customer_id)
    customer_visible = scope.sees_customer(
        principal, owner_id=customer.owner_id, owner_team_id=customer.owner_team_id, submitters=[row.submitted_by]
    )
    return scope.sees_lead(
        principal, partner_id=row.partner_id, submitted_by=row.submitted_by, customer_visible=customer_visible
    )


def list_channels(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.execute(sa.select(orm.channels).order_by(orm.channels.c.code))
    return [dict(row._mapping) for row in rows]


# --- customers ------------------------------------------------------------------------------------------------
PERSONAL_FIELDS = ("name", "mobile", "id_number", "address")


def customer_360(
    uow: UnitOfWork, *, config: IntakeConfig, principal: Principal, customer_id: str, unmask: bool
) -> dict[str, Any]:
    """One person with every lead, its form, documents, follow-ups, stage, owner and latest risk result."""
    session = uow.session
    customer = orm.customer_by_id(session, customer_id)
    if customer is None:
        raise NotFound("客户不存在")
    leads = session.execute(
        sa.select(orm.leads).where(orm.leads.c.customer_id == customer_id).order_by(orm.leads.c.created_at)
    ).all()
    visible = scope.sees_customer(
        principal,
        owner_id=customer.owner_id,
        owner_team_id=customer.owner_team_id,
        submitters=[lead.submitted_by for lead in leads],
    )
    if not visible:
        raise NotFound("客户不存在")
    key = config.vault.key(session, customer_id)
    person = _person(customer, key, unmask=unmask)
    lead_ids = [lead.id for lead in leads]
    documents = _grouped(session, orm.documents, lead_ids, orm.documents.c.uploaded_at)
    followups = _grouped(session, orm.followups, lead_ids, orm.followups.c.contacted_at)
    return {
        **person,
        "id": customer.id,
        "city": customer.city,
        "channel": customer.channel,
        "gender": customer.gender,
        "age": age_on(customer.birth_date, clock.business_date(clock.now())),
        "owner_id": customer.owner_id,
        "owner_team_id": customer.owner_team_id,
        "grade": customer.grade,
        "consent": {"given_at": clock.as_utc(customer.consent_at), "channel": customer.consent_channel}
        if customer.consent_at
        else None,
        "erased": customer.erased_at is not None,
        "created_at": clock.as_utc(customer.created_at),
        "leads": [
            _lead_360(uow, lead, key, documents.get(lead.id, []), followups.get(lead.id, []), unmask=unmask)
            for lead in leads
        ],
    }


def _person(customer: Any, key: SubjectKey | None, *, unmask: bool) -> dict[str, Any]:
    if key is None:  # erased: nothing personal is left to show
        return {"name": customer.masked_name, "mobile": None, "id_number": None, "address": None}
    clear = {
        "name": key.open("name", customer.name_enc),
        "mobile": key.open("mobile", customer.mobile_enc) if customer.mobile_enc else None,
        "id_number": key.open("id_number", customer.id_number_enc) if customer.id_number_enc else None,
        "address": key.open("address", customer.address_enc) if customer.address_enc else None,
    }
    if unmask:
        return clear
    return {
        "name": customer.masked_name,
        "mobile": mask_mobile(clear["mobile"]) if clear["mobile"] else None,
        "id_number": mask_id_number(clear["id_number"]) if clear["id_number"] else None,
        "address": "***" if clear["address"] else None,
    }


def _lead_360(
    uow: UnitOfWork, lead: Any, key: SubjectKey | None, documents: list[Any], followups: list[Any], *, unmask: bool
) -> dict[str, Any]:
    form = json.loads(lead.form)
    return {
        "id": lead.id,
        "product": lead.product,
        "amount": money(lead.amount),
        "term_months": lead.term_months,
        "purpose": lead.purpose,
        "city": lead.city,
        "channel": lead.channel,
        "partner_id": lead.partner_id,
        "submitted_by": lead.submitted_by,
        "duplicate_outcome": lead.duplicate_outcome,
        "form_version": lead.form_version,
        "form": {name: _form_value(name, value, key, unmask=unmask) for name, value in form.items()},
        "stage": lead.stage,
        "assignee_id": lead.assignee_id,
        "intent_level": lead.intent_level,
        "evaluation": json.loads(lead.evaluation) if lead.evaluation else None,
        "created_at": clock.as_utc(lead.created_at),
        "submitted_at": clock.as_utc(lead.submitted_at) if lead.submitted_at else None,
        "documents": [document_answer(row) for row in documents],
        "followups": [followup_answer(row, key, unmask=unmask) for row in followups],
    }


def _form_value(name: str, value: Any, key: SubjectKey | None, *, unmask: bool) -> Any:
    if not (isinstance(value, str) and value.startswith("s1.")):
        return value
    if key is None or not unmask:
        return "***"
    return json.loads(key.open(f"form.{name}", value))


def document_answer(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "doc_type": row.doc_type,
        "content_type": row.content_type,
        "size_bytes": row.size_bytes,
        "sha256": row.sha256,
        "uploaded_by": row.uploaded_by,
        "uploaded_at": clock.as_utc(row.uploaded_at),
    }


def followup_answer(row: Any, key: SubjectKey | None, *, unmask: bool) -> dict[str, Any]:
    note = None
    if row.note_enc:
        note = key.open("followup.note", row.note_enc) if key and unmask else "***"
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "user_id": row.user_id,
        "method": row.method,
        "outcome": row.outcome,
        "intent_level": row.intent_level,
        "note": note,
        "contacted_at": clock.as_utc(row.contacted_at),
        "next_followup_at": clock.as_utc(row.next_followup_at) if row.next_followup_at else None,
    }


def _grouped(session: Any, table: sa.Table, lead_ids: list[str], order: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    if not lead_ids:
        return grouped
    for row in session.execute(sa.select(table).where(table.c.lead_id.in_(lead_ids)).order_by(order)):
        grouped.setdefault(row.lead_id, []).append(row)
    return grouped


def age_on(birth_date: date | None, today: date) -> int | None:
    """Whole years of age on a day (None when the birth date is not known)."""
    if birth_date is None:
        return None
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


# --- lists ------------------------------------------------------------------------------------------------------
def _customer_scope(principal: Principal) -> Any:
    if scope.sees_every_customer(principal):
        return sa.true()
    entered = sa.select(orm.leads.c.customer_id).where(orm.leads.c.submitted_by == principal.subject)
    mine = sa.or_(orm.customers.c.owner_id == principal.subject, orm.customers.c.id.in_(entered))
    if principal.has_any("manager"):
        return sa.or_(
            mine, orm.customers.c.owner_id.is_(None), orm.customers.c.owner_team_id.in_(principal.managed_team_ids)
        )
    return mine


def list_customers(
    uow: UnitOfWork, *, principal: Principal, filters: dict[str, Any], limit: int, cursor: str | None
) -> Page:
    """Customers in the caller's scope, newest first, filtered by owner, city, channel, grade or date."""
    customers = orm.customers
    query = sa.select(customers).where(_customer_scope(principal), after_cursor(customers, cursor))
    for name in ("owner_id", "city", "channel", "grade"):
        if filters.get(name):
            query = query.where(customers.c[name] == filters[name])
    query = _within_days(query, customers.c.created_at, filters)
    for name in ("product", "stage"):
        if filters.get(name):
            query = query.where(
                customers.c.id.in_(sa.select(orm.leads.c.customer_id).where(orm.leads.c[name] == filters[name]))
            )
    rows = uow.session.execute(
        query.order_by(customers.c.created_at.desc(), customers.c.id.desc()).limit(limit + 1)
    ).all()
    return page(rows, limit, customer_summary)


def customer_summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.masked_name,
        "city": row.city,
        "channel": row.channel,
        "owner_id": row.owner_id,
        "grade": row.grade,
        "erased": row.erased_at is not None,
        "created_at": clock.as_utc(row.created_at),
    }


def list_leads(
    uow: UnitOfWork, *, principal: Principal, filters: dict[str, Any], limit: int, cursor: str | None
) -> Page:
    """Leads in the caller's scope, newest first, filtered by product, channel, stage, city, owner or date."""
    leads, customers = orm.leads, orm.customers
    query = (
        sa.select(leads, customers.c.masked_name)
        .join(customers, customers.c.id == leads.c.customer_id)
        .where(after_cursor(leads, cursor))
    )
    if principal.partner_id:
        query = query.where(leads.c.partner_id == principal.partner_id)
    else:
        query = query.where(sa.or_(_customer_scope(principal), leads.c.submitted_by == principal.subject))
    for name in ("product", "channel", "stage", "city"):
        if filters.get(name):
            query = query.where(leads.c[name] == filters[name])
    if filters.get("owner_id"):
        query = query.where(customers.c.owner_id == filters["owner_id"])
    query = _within_days(query, leads.c.created_at, filters)
    rows = uow.session.execute(query.order_by(leads.c.created_at.desc(), leads.c.id.desc()).limit(limit + 1)).all()
    return page(rows, limit, lambda row: lead_answer(row, masked_name=row.masked_name, masked_mobile=""))


def _within_days(query: Any, column: Any, filters: dict[str, Any]) -> Any:
    """Business days ``from``..``to`` (inclusive) in the business time zone."""
    if filters.get("from_"):
        query = query.where(column >= clock.business_day_bounds(filters["from_"])[0].replace(tzinfo=None))
    if filters.get("to"):
        query = query.where(column < clock.business_day_bounds(filters["to"])[1].replace(tzinfo=None))
    return query


# --- products ---------------------------------------------------------------------------------------------------
def list_products(uow: UnitOfWork) -> list[dict[str, Any]]:
    forms = orm.product_forms
    published = sa.select(forms.c.product, forms.c.version).where(forms.c.status == "published").subquery("published")
    rows = uow.session.execute(
        sa.select(orm.products, published.c.version)
        .outerjoin(published, published.c.product == orm.products.c.code)
        .order_by(orm.products.c.code)
    )
    return [
        {"code": row.code, "name": row.name, "active": bool(row.active), "published_version": row.version}
        for row in rows
    ]


def list_forms(uow: UnitOfWork, *, product: str) -> list[dict[str, Any]]:
    rows = uow.session.execute(
        sa.select(orm.product_forms)
        .where(orm.product_forms.c.product == product)
        .order_by(orm.product_forms.c.version.desc())
    ).all()
    if not rows:
        raise NotFound("产品不存在或没有表单")
    return [form_answer(row) for row in rows]


def form_answer(row: Any) -> dict[str, Any]:
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    return {
        "product": data["product"],
        "version": data["version"],
        "status": data["status"],
        "definition": json.loads(data["definition"]),
        "note": data.get("note"),
        "created_by": data["created_by"],
        "created_at": clock.as_utc(data["created_at"]),
        "published_by": data.get("published_by"),
        "published_at": clock.as_utc(data["published_at"]) if data.get("published_at") else None,
    }
