"""Read-side queries of risk: evaluations by lead, decision, flag and date, and one evaluation as a checklist."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.domain import models

CHECKLIST_TABLES = ("flags", "routing", "rejections")


def list_evaluations(
    uow: UnitOfWork,
    *,
    lead_id: str | None,
    product: str | None,
    decision: str | None,
    flag: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Evaluations newest first, filtered, a page at a time."""
    table = orm.evaluations
    query = sa.select(table)
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
    if cursor:
        created_at, row_id = _decode(cursor)
        query = query.where(
            sa.or_(table.c.created_at < created_at, sa.and_(table.c.created_at == created_at, table.c.id < row_id))
        )
    rows = uow.session.execute(query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "items": [evaluation_answer(row) for row in rows],
        "next_cursor": _encode(rows[-1].created_at, rows[-1].id) if more else None,
    }


def read_evaluation(uow: UnitOfWork, *, evaluation_id: str) -> dict[str, Any]:
    """One evaluation with its inputs and every rule of its version as a checklist: hit or not, on which values."""
    row = uow.session.execute(sa.select(orm.evaluations).where(orm.evaluations.c.id == evaluation_id)).first()
    if row is None:
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


def _encode(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(f"{clock.isoformat(clock.as_utc(created_at))}|{row_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        instant, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return clock.as_utc(clock.parse_iso(instant)).replace(tzinfo=None), row_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput.for_field("cursor", "分页游标无效") from exc
