"""A lender product's admission criteria: each one a feature, a zen expression that must hold, and the reason
shown when it does not. They are kept as a JDM decision model (one table whose hits are the failed criteria,
an unknown value failing too), so they evaluate like rule sets and the JDM editor can open them."""

from __future__ import annotations

import json
from typing import Any

import zen

from loanbridge.risk.domain import features, models

TABLE_ID = "admission"


def criteria_model(criteria: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision model of a list of criteria ({id, field, expression, reason})."""
    rows = [
        {
            "_id": item["id"],
            "_description": item["reason"],
            "_inputs": item["field"],
            "condition": f"{item['field']} == null or not ({item['expression']})",
            "rule": json.dumps(item["id"], ensure_ascii=False),
            "reason": json.dumps(item["reason"], ensure_ascii=False),
        }
        for item in criteria
    ]
    table = {
        "hitPolicy": "collect",
        "passThrough": True,
        "inputField": None,
        "outputPath": f"hits.{TABLE_ID}",
        "executionMode": "single",
        "inputs": [{"id": "condition", "name": "准入条件"}],
        "outputs": [
            {"id": "rule", "name": "条件编号", "field": "rule_id"},
            {"id": "reason", "name": "原因", "field": "reason"},
        ],
        "rules": rows,
    }
    return {
        "contentType": models.CONTENT_TYPE,
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "申请", "position": {"x": 0, "y": 0}},
            {
                "id": TABLE_ID,
                "type": "decisionTableNode",
                "name": "准入条件",
                "position": {"x": 240, "y": 0},
                "content": table,
            },
            {"id": "response", "type": "outputNode", "name": "结果", "position": {"x": 480, "y": 0}},
        ],
        "edges": [
            {"id": "e0", "type": "edge", "sourceId": "request", "targetId": TABLE_ID},
            {"id": "e1", "type": "edge", "sourceId": TABLE_ID, "targetId": "response"},
        ],
    }


def criteria_of(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The criteria list a model was made from."""
    found = []
    for table in models.tables(model):
        for row in table.rules:
            condition = str(row.get("condition", ""))
            field = str(row.get("_inputs") or "")
            expression = condition.removeprefix(f"{field} == null or not (").removesuffix(")")
            found.append({"id": row["_id"], "field": field, "expression": expression, "reason": row["_description"]})
    return found


def problems(criteria: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Field errors of a criteria list: unknown features, expressions that do not parse, repeated ids."""
    found: dict[str, list[str]] = {}
    known = features.known_fields()
    seen: set[str] = set()
    for index, item in enumerate(criteria):
        where = f"criteria[{index}]"
        if item["id"] in seen:
            found.setdefault(f"{where}.id", []).append("条件编号重复")
        seen.add(item["id"])
        if item["field"] not in known:
            found.setdefault(f"{where}.field", []).append("不是已知的风控特征")
        try:
            zen.compile_expression(item["expression"])
        except RuntimeError as exc:
            found.setdefault(f"{where}.expression", []).append(f"表达式无法解析 ({models.engine_message(exc)})")
    return found


def term_failures(terms: dict[str, Any], application: dict[str, Any]) -> list[dict[str, Any]]:
    """The lender product's terms an application falls outside: product, amount, term and city."""
    failed = []
    amount, term, product, city = (application.get(k) for k in ("amount", "term_months", "product", "city"))
    if terms.get("products") and product not in terms["products"]:
        failed.append(_failure("product", "资方产品不接受该产品类型", product=product))
    if not terms.get("min_amount", 0) <= amount <= terms.get("max_amount", float("inf")):
        failed.append(_failure("amount_range", "申请金额不在资方产品的额度范围内", amount=amount))
    if not terms.get("min_term", 0) <= term <= terms.get("max_term", 10_000):
        failed.append(_failure("term_range", "申请期限不在资方产品的期限范围内", term_months=term))
    if terms.get("cities") and city not in terms["cities"]:
        failed.append(_failure("city", "资方产品不覆盖该城市", city=city))
    return failed


def _failure(criterion: str, reason: str, **inputs: Any) -> dict[str, Any]:
    return {"criterion": criterion, "reason": reason, "inputs": inputs}
