"""Read-side queries of reporting's KPI endpoints."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from loanbridge.common.uow import UnitOfWork
from loanbridge.reporting import orm

FILTERS = ("channel", "product", "city", "team_id")


def lead_kpis(uow: UnitOfWork, *, start: date, end: date, filters: dict[str, str | None]) -> list[dict[str, Any]]:
    """Leads per channel and product created on the business days ``start``..``end`` (inclusive)."""
    facts = orm.lead_facts
    query = (
        sa.select(
            facts.c.channel,
            facts.c.product,
            sa.func.count().label("leads"),
            sa.func.coalesce(sa.func.sum(facts.c.amount), 0).label("amount"),
        )
        .where(facts.c.business_day >= start, facts.c.business_day <= end)
        .group_by(facts.c.channel, facts.c.product)
        .order_by(facts.c.channel, facts.c.product)
    )
    for name in FILTERS:
        if filters.get(name):
            query = query.where(getattr(facts.c, name) == filters[name])
    return [
        {"channel": row.channel, "product": row.product, "leads": row.leads, "amount": float(row.amount)}
        for row in uow.session.execute(query)
    ]
