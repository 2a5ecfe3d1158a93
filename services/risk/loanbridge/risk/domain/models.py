"""A rule set is a GoRules JSON Decision Model (JDM): a graph of an input node, expression nodes and decision
tables, and an output node. This module reads such a document and says what is wrong with it, node by node,
before it can be published; the open JDM editor can still edit whatever passes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import zen

CONTENT_TYPE = "application/vnd.gorules.decision"
# functionNode runs JavaScript: rule sets are data, never code, so it is refused.
NODE_TYPES = {"inputNode", "outputNode", "decisionTableNode", "expressionNode", "switchNode"}
DECISIONS = {"approve", "review", "reject"}


@dataclass(frozen=True)
class Problem:
    """What is wrong, and in which node (``model`` when it is the document as a whole)."""

    node: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"node": self.node, "message": self.message}


@dataclass(frozen=True)
class Column:
    id: str
    field: str | None


@dataclass(frozen=True)
class Table:
    """A decision table node: its input and output columns and its rows."""

    node_id: str
    name: str
    output_path: str | None
    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...]
    rules: tuple[dict[str, Any], ...]

    def rule_inputs(self, rule: dict[str, Any]) -> list[str]:
        """The fields a row tests: its non-empty input cells, or, for a row of free expressions, its ``_inputs``
        (field names separated by commas: JDM cells are strings)."""
        if rule.get("_inputs"):
            return [name.strip() for name in str(rule["_inputs"]).split(",") if name.strip()]
        return [column.field for column in self.inputs if column.field and str(rule.get(column.id, "")).strip()]


def nodes(model: dict[str, Any]) -> list[dict[str, Any]]:
    found = model.get("nodes")
    return found if isinstance(found, list) else []


def tables(model: dict[str, Any]) -> Iterator[Table]:
    """Every decision table of the model, in document order."""
    for node in nodes(model):
        if node.get("type") != "decisionTableNode":
            continue
        content = node.get("content") or {}
        yield Table(
            node_id=str(node.get("id")),
            name=str(node.get("name") or node.get("id")),
            output_path=content.get("outputPath"),
            inputs=tuple(Column(str(c.get("id")), c.get("field")) for c in content.get("inputs") or []),
            outputs=tuple(Column(str(c.get("id")), c.get("field")) for c in content.get("outputs") or []),
            rules=tuple(content.get("rules") or []),
        )


def expressions(model: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(node id, key, expression) of every expression node entry."""
    for node in nodes(model):
        if node.get("type") == "expressionNode":
            for entry in (node.get("content") or {}).get("expressions") or []:
                yield str(node.get("id")), str(entry.get("key") or ""), str(entry.get("value") or "")


def structure_problems(model: Any) -> list[Problem]:
    """The document is a JDM graph: its content type, known node types, unique ids, edges between its nodes."""
    if not isinstance(model, dict) or model.get("contentType") != CONTENT_TYPE:
        return [Problem("model", f"规则集必须是 JDM 决策模型(contentType 为 {CONTENT_TYPE})")]
    problems: list[Problem] = []
    ids = [str(node.get("id")) for node in nodes(model)]
    if not ids:
        problems.append(Problem("model", "决策模型没有任何节点"))
    for node in nodes(model):
        if node.get("type") not in NODE_TYPES:
            problems.append(Problem(str(node.get("id")), f"不支持的节点类型 {node.get('type')}"))
    for node_id in {i for i in ids if ids.count(i) > 1}:
        problems.append(Problem(node_id, "节点编号重复"))
    for kind, label in (("inputNode", "输入"), ("outputNode", "输出")):
        if sum(1 for node in nodes(model) if node.get("type") == kind) != 1:
            problems.append(Problem("model", f"决策模型必须恰好有一个{label}节点"))
    for edge in model.get("edges") or []:
        for end in ("sourceId", "targetId"):
            if edge.get(end) not in ids:
                problems.append(Problem(str(edge.get("id")), f"连线指向不存在的节点 {edge.get(end)}"))
    return problems


def field_problems(model: dict[str, Any], known: frozenset[str]) -> list[Problem]:
    """Every table input and every expression output is a known feature (the dictionary or the product's)."""
    problems = [
        Problem(table.node_id, f"输入字段 {column.field} 不是已知的风控特征")
        for table in tables(model)
        for column in table.inputs
        if column.field and _root(column.field) not in known
    ]
    problems += [
        Problem(node_id, f"表达式输出 {key or '(空)'} 不是已知的风控特征")
        for node_id, key, _ in expressions(model)
        if _root(key) not in known
    ]
    return problems


def syntax_problems(model: dict[str, Any]) -> list[Problem]:
    """Every cell and expression parses: input cells as unary tests, output cells and expressions in full."""
    problems = []
    for table in tables(model):
        for rule in table.rules:
            rule_id = rule.get("_id", "?")
            for column in table.inputs:
                problems += _compile(table.node_id, rule_id, rule.get(column.id), unary=bool(column.field))
            for column in table.outputs:
                problems += _compile(table.node_id, rule_id, rule.get(column.id), unary=False)
    for node_id, key, value in expressions(model):
        problems += _compile(node_id, key, value, unary=False, allow_empty=False)
    return problems


def _compile(node_id: str, where: Any, cell: Any, *, unary: bool, allow_empty: bool = True) -> list[Problem]:
    text = str(cell if cell is not None else "").strip()
    if not text:
        return [] if allow_empty else [Problem(node_id, f"{where}: 表达式为空")]
    try:
        (zen.compile_unary_expression if unary else zen.compile_expression)(text)
    except RuntimeError as exc:
        return [Problem(node_id, f"{where}: 表达式无法解析 ({engine_message(exc)})")]
    return []


def engine_message(exc: BaseException) -> str:
    """The engine's own short reason (its errors are JSON followed by a native backtrace)."""
    first = str(exc).split("\n", 1)[0]
    try:
        return str(json.loads(first).get("source") or first)
    except (ValueError, AttributeError):
        return first


def engine_node(exc: BaseException) -> str | None:
    """The node an engine error names, if it names one."""
    try:
        return json.loads(str(exc).split("\n", 1)[0]).get("nodeId")
    except (ValueError, AttributeError):
        return None


def _root(field: str) -> str:
    return field.split(".", 1)[0].strip()


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two versions: nodes added, removed or changed, and table rows by their ``_id``."""
    old = {str(node.get("id")): node for node in nodes(before or {})}
    new = {str(node.get("id")): node for node in nodes(after)}
    changes: list[dict[str, Any]] = []
    for node_id in sorted(new.keys() - old.keys()):
        changes.append({"node": node_id, "change": "node_added"})
    for node_id in sorted(old.keys() - new.keys()):
        changes.append({"node": node_id, "change": "node_removed"})
    for node_id in sorted(old.keys() & new.keys()):
        changes += _node_changes(node_id, old[node_id], new[node_id])
    return changes


def _node_changes(node_id: str, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    old_content, new_content = old.get("content") or {}, new.get("content") or {}
    if old_content == new_content:
        return []
    if new.get("type") != "decisionTableNode" or old.get("type") != "decisionTableNode":
        return [{"node": node_id, "change": "node_changed"}]
    old_rules = {rule.get("_id"): rule for rule in old_content.get("rules") or []}
    new_rules = {rule.get("_id"): rule for rule in new_content.get("rules") or []}
    changes = [{"node": node_id, "rule": r, "change": "rule_added"} for r in new_rules.keys() - old_rules.keys()]
    changes += [{"node": node_id, "rule": r, "change": "rule_removed"} for r in old_rules.keys() - new_rules.keys()]
    changes += [
        {"node": node_id, "rule": r, "change": "rule_changed", "before": old_rules[r], "after": new_rules[r]}
        for r in old_rules.keys() & new_rules.keys()
        if old_rules[r] != new_rules[r]
    ]
    rest = ("inputs", "outputs", "hitPolicy", "outputPath")
    if any(old_content.get(key) != new_content.get(key) for key in rest):
        changes.append({"node": node_id, "change": "columns_changed"})
    return sorted(changes, key=lambda change: (change["change"], str(change.get("rule"))))
