"""Process definitions: a product's loan lifecycle as a versioned JSON document.

A definition names its stages (with the documents each requires, its SLA and the tasks it creates on entry) and
the transitions between them: who may take each one, and conditions written as zen-engine expressions over the
case (``amount > 500000``). The JSON Schema below is what the API publishes and checks at save time; the checks
a schema cannot express (stages that exist, expressions that parse) follow it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import zen

from loanbridge.common.auth import ROLES
from loanbridge.common.errors import Conflict, Forbidden
from loanbridge.workflow.domain.sla import UNITS

SYSTEM = "system"  # the service itself, moving a case on an event (risk's decision, a submission)
DEFAULT_PRODUCTS = ("house", "credit", "car")
DEFAULT_FILE = Path(__file__).resolve().parents[1] / "migrations" / "data" / "default_process_v1.json"
STAGE_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}
ROLE = {"enum": [*[role for role in ROLES if role not in ("partner", "service")], SYSTEM]}
EXPRESSION = {"type": ["string", "null"], "maxLength": 500}
ESCALATE_TO = {"type": "string", "pattern": "^(manager|admin|sales|risk_officer|risk_director|ops)$"}

PROCESS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "loanbridge/workflow/process-definition.v1.schema.json",
    "title": "LoanBridge process definition v1",
    "description": "A product's loan lifecycle: stages, transitions with roles and conditions, SLAs and tasks.",
    "type": "object",
    "required": ["name", "initial_stage", "stages", "transitions"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "initial_stage": STAGE_KEY,
        "stages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["key", "name"],
                "additionalProperties": False,
                "properties": {
                    "key": STAGE_KEY,
                    "name": {"type": "string", "minLength": 1, "maxLength": 50},
                    "terminal": {"type": "boolean"},
                    "required_documents": {"type": "array", "items": {"type": "string", "maxLength": 32}},
                    "sla": {
                        "type": ["object", "null"],
                        "required": ["duration", "unit"],
                        "additionalProperties": False,
                        "properties": {
                            "duration": {"type": "number", "exclusiveMinimum": 0, "maximum": 10000},
                            "unit": {"enum": list(UNITS)},
                            "remind_before": {"type": "number", "minimum": 0},
                            "escalate_to": ESCALATE_TO,
                        },
                    },
                    "tasks": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["kind", "title"],
                            "additionalProperties": False,
                            "properties": {
                                "kind": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"},
                                "title": {"type": "string", "minLength": 1, "maxLength": 100},
                                "assignee": {"type": "string", "pattern": "^(owner|role:[a-z_]+)$"},
                                "once": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
        "transitions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "from", "to", "roles"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                    "from": {"type": "array", "minItems": 1, "items": STAGE_KEY},
                    "to": STAGE_KEY,
                    "roles": {"type": "array", "minItems": 1, "items": ROLE},
                    "condition": EXPRESSION,
                    "role_rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "when", "roles"],
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                                "when": {"type": "string", "minLength": 1, "maxLength": 500},
                                "roles": {"type": "array", "minItems": 1, "items": ROLE},
                            },
                        },
                    },
                },
            },
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(PROCESS_SCHEMA)


def default_definition() -> dict[str, Any]:
    """The default lifecycle of ARCHITECTURE.md §3, shared by house, credit and car."""
    definition: dict[str, Any] = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    return definition


def problems(definition: Any) -> dict[str, list[str]]:
    """What is wrong with a definition, by path (``transitions.<id>.condition``); empty when it is valid."""
    found: dict[str, list[str]] = {}
    for error in _VALIDATOR.iter_errors(definition):
        path = ".".join(str(part) for part in error.absolute_path) or "definition"
        found.setdefault(path, []).append(_zh_schema_error(error))
    if found:
        return found
    keys = [stage["key"] for stage in definition["stages"]]
    if len(set(keys)) != len(keys):
        found.setdefault("stages", []).append("阶段编码重复")
    if definition["initial_stage"] not in keys:
        found.setdefault("initial_stage", []).append("初始阶段不存在")
    ids = [transition["id"] for transition in definition["transitions"]]
    if len(set(ids)) != len(ids):
        found.setdefault("transitions", []).append("流转编码重复")
    for transition in definition["transitions"]:
        where = f"transitions.{transition['id']}"
        for stage in [*transition["from"], transition["to"]]:
            if stage not in keys:
                found.setdefault(where, []).append(f"阶段 {stage} 不存在")
        if transition.get("condition"):
            _check_expression(found, f"{where}.condition", transition["condition"])
        for rule in transition.get("role_rules", []):
            _check_expression(found, f"{where}.role_rules.{rule['id']}", rule["when"])
    return found


def _check_expression(found: dict[str, list[str]], where: str, expression: str) -> None:
    error = problems_of_expression(expression)
    if error is not None:
        found.setdefault(where, []).append(error)


def problems_of_expression(expression: str) -> str | None:
    """Why a zen-engine expression does not parse (in Chinese), or None when it does."""
    error = zen.validate_expression(expression)
    if error is None:
        return None
    return f"条件表达式无效:{error.get('source', '')}"[:200]


def _zh_schema_error(error: jsonschema.ValidationError) -> str:
    messages = {
        "required": "缺少必填项",
        "additionalProperties": "不支持的字段",
        "type": "类型不正确",
        "enum": "取值无效",
        "pattern": "格式不正确",
        "minItems": "不能为空",
        "minLength": "不能为空",
    }
    return messages.get(str(error.validator), "取值无效")


def stage(definition: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A stage of the definition by its key."""
    return next((item for item in definition["stages"] if item["key"] == key), None)


def is_terminal(definition: dict[str, Any], key: str) -> bool:
    found = stage(definition, key)
    return bool(found and found.get("terminal"))


def transition_between(definition: dict[str, Any], current: str, to: str) -> dict[str, Any] | None:
    """The transition that leads from ``current`` to ``to``, if the definition has one."""
    return next((t for t in definition["transitions"] if current in t["from"] and t["to"] == to), None)


def expressions_mention(definition: dict[str, Any], current: str, to: str, name: str) -> bool:
    """Whether an expression of the transition from ``current`` to ``to`` may read the fact ``name``: a fact
    that costs a query is read only then (a false yes costs only the query)."""
    transition = transition_between(definition, current, to) or {}
    expressions = [transition.get("condition") or "", *(rule["when"] for rule in transition.get("role_rules", []))]
    return any(name in expression for expression in expressions)


def evaluate(expression: str, facts: dict[str, Any]) -> bool:
    """A zen-engine expression over the case's facts; anything but true is false."""
    return zen.evaluate_expression(expression, facts) is True


def check_transition(
    definition: dict[str, Any], *, current: str, to: str, roles: frozenset[str], facts: dict[str, Any]
) -> dict[str, Any]:
    """The transition a caller with ``roles`` may take from ``current`` to ``to``; raises naming the rule that
    forbids it (409: no such transition, a condition, missing documents; 403: a role not allowed)."""
    transition = transition_between(definition, current, to)
    if transition is None:
        raise Conflict(
            f"流程不允许从「{current}」流转到「{to}」",
            code="transition_not_allowed",
            details={"rule": "no_transition", "from": current, "to": to},
        )
    allowed = set(transition["roles"])
    for rule in transition.get("role_rules", []):
        if evaluate(rule["when"], facts):
            allowed &= set(rule["roles"])
            if not roles & allowed:
                raise Forbidden(
                    "当前角色无权执行此流转",
                    code="transition_role_not_allowed",
                    details={"transition": transition["id"], "rule": rule["id"], "roles": sorted(allowed)},
                )
    if not roles & allowed:
        raise Forbidden(
            "当前角色无权执行此流转",
            code="transition_role_not_allowed",
            details={"transition": transition["id"], "roles": sorted(allowed)},
        )
    if transition.get("condition") and not evaluate(transition["condition"], facts):
        raise Conflict(
            "不满足流转条件",
            code="transition_condition_failed",
            details={"rule": transition["id"], "condition": transition["condition"]},
        )
    target = stage(definition, to) or {}
    missing = sorted(set(target.get("required_documents", [])) - set(facts.get("documents", [])))
    if missing:
        raise Conflict(
            "缺少该阶段要求的材料",
            code="required_documents_missing",
            details={"rule": f"{to}.required_documents", "missing_documents": missing},
        )
    return transition
