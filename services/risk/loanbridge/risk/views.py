"""Read-side queries of risk: evaluations by lead, decision, flag and date, and one evaluation as a checklist, each
within the caller's scope (``domain/scope.py``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import NotFound
from loanbridge.common.pagination import after_cursor, newest_first, page
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.domain import models, scope
from loanbridge.risk.handlers import owners

CHECKLIST_TABLES = ("flags", "routing", "rejections")


def customer_scope(principal: Principal, customer_id: Any) -> Any:
    """The customers a caller may read, as a SQL condition on a customer id column (``scope.sees_customer``)."""
    if principal.is_partner:
        return sa.false()
    if scope.sees_every_customer(principal):
        return sa.true()
    table = orm.customer_owners
    mine = customer_id.in_(sa.select(table.c.customer_id).where(table.c.owner_id == principal.subject))
    if not principal.has_any("manager"):
        return mine
    teams = list(principal.managed_team_ids)
    members = sa.select(orm.staff.c.user_id).where(orm.staff.c.team_id.in_(teams))
    owned = sa.select(table.c.customer_id).where(table.c.owner_id.is_not(None))
    in_teams = sa.select(table.c.customer_id).where(
        table.c.owner_id.is_not(None), sa.or_(table.c.team_id.in_(teams), table.c.owner_id.in_(members))
    )
    return sa.or_(mine, customer_id.not_in(owned), customer_id.in_(in_teams))


def list_evaluations(
    uow: UnitOfWork,
    *,
    principal: Principal,
    lead_id: str | None,
    product: str | None,
    decision: str | None,
    flag: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Evaluations in the caller's scope newest first, filtered, a page at a time."""
    table = orm.evaluations
    query = sa.select(table).where(customer_scope(principal, table.c.customer_id))
    for column, value in ((table.c.lead_id, lead_id), (table.c.product, product), (table.c.decision, decision)):
        if value is not None:
            query = query.where(column == value)
    if flag is not None:
        flagged = sa.select(orm.evaluation_flags.c.evaluation_id).where(orm.evaluation_flags.c.flag == flag)
        query = query.where(table.c.id.in_(flagged))
    if since is not None:
        query = query.where(table.c.created_at >= naive_utc(since))
    if until is not None:
        query = query.where(table.c.created_at < naive_utc(until))
    query = query.where(after_cursor(table, cursor)).order_by(*newest_first(table)).limit(limit + 1)
    found = page(uow.session.execute(query).all(), limit, evaluation_answer)
    return {"items": found.items, "next_cursor": found.next_cursor}


def read_evaluation(uow: UnitOfWork, *, principal: Principal, evaluation_id: str) -> dict[str, Any]:
    """One evaluation with its inputs and every rule of its version as a checklist: hit or not, on which values.
    Outside the caller's scope it is a 404, as if it did not exist."""
    row = uow.session.execute(sa.select(orm.evaluations).where(orm.evaluations.c.id == evaluation_id)).first()
    if row is None or not scope.sees_customer(principal, owners.owner_of(uow, row.customer_id)):
        raise NotFound("评估记录不存在")
    answer = evaluation_answer(row)
    ruleset = orm.ruleset(uow.session, row.product, row.ruleset_version) if row.ruleset_version else None
    hits = {(hit["table"], hit["rule_id"]): hit for hit in answer["hits"]}
    answer["inputs"] = json.loads(row.inputs)
    answer["checklist"] = _checklist(json.loads(ruleset.model), hits) if ruleset else list(hits.values())
    return answer


def evaluation_answer(row: Any) -> dict[str, Any]:
    outcome = json.loads(row.outcome)
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "customer_id": row.customer_id,
        "product": row.product,
        "ruleset_version": row.ruleset_version,
        "engine_version": row.engine_version,
        "decision": row.decision,
        "score": row.score,
        "grade": row.grade,
        "route_to": row.route_to,
        "flags": outcome["flags"],
        "hits": outcome["hits"],
        "scorecard": outcome.get("scorecard", []),
        "missing_documents": outcome["missing_documents"],
        "missing_fields": outcome["missing_fields"],
        "evaluated_at": clock.as_utc(row.created_at),
    }


def _checklist(model: dict[str, Any], hits: dict[tuple[str, str], Any]) -> list[dict[str, Any]]:
    items = []
    for table in models.tables(model):
        if table.node_id not in CHECKLIST_TABLES:
            continue
        for rule in table.rules:
            hit = hits.get((table.node_id, str(rule.get("_id"))))
            items.append(
                {
                    "table": table.node_id,
                    "rule_id": rule.get("_id"),
                    "description": rule.get("_description"),
                    "hit": hit is not None,
                    "decision": hit["decision"] if hit else None,
                    "reason": hit["reason"] if hit else None,
                    "inputs": hit["inputs"] if hit else {},
                }
            )
    return items
