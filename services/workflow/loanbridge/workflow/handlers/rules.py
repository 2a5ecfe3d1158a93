"""Assignment rules, in the order they are tried: a condition on the lead and a strategy."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import orm
from loanbridge.workflow.domain.processes import problems_of_expression


def create_rule(uow: UnitOfWork, *, rule: dict[str, Any]) -> dict[str, Any]:
    """Add an assignment rule (a named user, or a team by round-robin or least loaded)."""
    _check(rule)
    row = {
        "id": str(uuid.uuid4()),
        "position": rule["position"],
        "name": rule["name"],
        "active": rule.get("active", True),
        "condition": json.dumps(rule.get("condition") or {}, ensure_ascii=False),
        "strategy": rule["strategy"],
        "user_id": rule.get("user_id"),
        "team_id": rule.get("team_id"),
        "created_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.assignment_rules.insert(), row)
    return answer(row)


def update_rule(uow: UnitOfWork, *, rule_id: str, rule: dict[str, Any]) -> dict[str, Any]:
    """Replace a rule's order, condition, strategy or whether it is active."""
    _check(rule)
    table = orm.assignment_rules
    values = {
        "position": rule["position"],
        "name": rule["name"],
        "active": rule.get("active", True),
        "condition": json.dumps(rule.get("condition") or {}, ensure_ascii=False),
        "strategy": rule["strategy"],
        "user_id": rule.get("user_id"),
        "team_id": rule.get("team_id"),
    }
    if uow.session.execute(table.update().where(table.c.id == rule_id).values(**values)).rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("分配规则不存在")
    row = uow.session.execute(sa.select(table).where(table.c.id == rule_id)).one()
    return answer(row._mapping)


def list_rules(uow: UnitOfWork) -> list[dict[str, Any]]:
    table = orm.assignment_rules
    return [
        answer(row._mapping) for row in uow.session.execute(sa.select(table).order_by(table.c.position, table.c.id))
    ]


def _check(rule: dict[str, Any]) -> None:
    if rule["strategy"] == "user" and not rule.get("user_id"):
        raise InvalidInput.for_field("user_id", "指定人员策略需要填写员工")
    if rule["strategy"] in ("round_robin", "least_loaded") and not rule.get("team_id"):
        raise InvalidInput.for_field("team_id", "团队策略需要填写团队")
    expression = (rule.get("condition") or {}).get("expression")
    if expression:
        error = problems_of_expression(expression)
        if error:
            raise InvalidInput.for_field("condition.expression", error)


def answer(row: Any) -> dict[str, Any]:
    data = dict(row)
    return {
        "id": data["id"],
        "position": data["position"],
        "name": data["name"],
        "active": bool(data["active"]),
        "condition": json.loads(data["condition"]),
        "strategy": data["strategy"],
        "user_id": data["user_id"],
        "team_id": data["team_id"],
        "created_at": clock.as_utc(data["created_at"]),
    }
