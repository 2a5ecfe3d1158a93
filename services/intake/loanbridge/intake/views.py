"""Read-side queries of intake's GET endpoints, and the shapes answers take."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import NotFound
from loanbridge.common.pii.masking import mask_mobile
from loanbridge.common.uow import UnitOfWork
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
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
    if row is None or not _in_scope(principal, row):
        raise NotFound("线索不存在")
    return stored_lead_answer(uow, config, row)


def _in_scope(principal: Principal, row: Any) -> bool:
    if principal.partner_id:
        return row.partner_id == principal.partner_id
    if principal.has_any("admin", "manager", "ops", "risk_officer", "risk_director"):
        return True
    return row.submitted_by == principal.subject


def list_channels(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.execute(sa.select(orm.channels).order_by(orm.channels.c.code))
    return [dict(row._mapping) for row in rows]
