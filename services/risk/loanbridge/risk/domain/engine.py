"""Evaluating a rule set with zen-engine, and reading its result as a decision that explains itself.

The model's contract (docs/risk.md): decision tables write their hits as lists under ``hits.<table>``, each
hit with ``rule_id`` and, as it applies, ``decision`` (approve / review / reject), ``reason``, ``route_to`` and
``flag``; the scorecard leaves ``score``, the grade table ``grade`` (A / B / C) and ``grade_reason``. When
several rules decide, reject beats review beats approve; no deciding hit is an approval.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any

import zen

from loanbridge.risk.domain import features, models
from loanbridge.risk.domain.models import DECISIONS, Problem

ENGINE_VERSION = f"zen-engine {version('zen-engine')}"
PRECEDENCE = {"reject": 3, "review": 2, "approve": 1}
# Who reviews, most senior first: a file routed to both goes to the more senior.
REVIEWERS = ("risk_director", "risk_officer")
GRADES = ("A", "B", "C")

# zen-engine holds numbers as 96-bit decimals and refuses to evaluate an input past them (or NaN, infinity). The
# limit is far inside that range and far above any amount, income or count a loan file carries.
NUMBER_LIMIT = 1e15

_engine = zen.ZenEngine()
_engine_lock = threading.Lock()


def unrepresentable_numbers(values: dict[str, Any]) -> list[str]:
    """The fields of an input holding a number the engine cannot take (anywhere inside them), sorted."""
    return sorted(name for name, value in values.items() if not _representable(value))


def _representable(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value) and abs(value) <= NUMBER_LIMIT
    if isinstance(value, dict):
        return all(_representable(item) for item in value.values())
    if isinstance(value, list | tuple):
        return all(_representable(item) for item in value)
    return True


class EvaluationFailed(Exception):
    """The model could not evaluate an application (a rule set that passed validation should never do this)."""

    def __init__(self, node: str | None, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass(frozen=True)
class Hit:
    rule_id: str
    table: str
    decision: str | None
    reason: str
    route_to: str | None
    flag: str | None
    inputs: dict[str, Any]


@dataclass(frozen=True)
class Assessment:
    """What a rule set concluded about one application, and why."""

    decision: str
    score: float | None
    grade: str | None
    grade_reason: str | None
    route_to: str | None
    flags: list[str]
    hits: list[Hit]
    missing_documents: list[str]
    missing_fields: list[str]
    scorecard: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CompiledRuleset:
    """A rule set ready to evaluate: its model compiled once, and where each rule's inputs are."""

    def __init__(self, model: dict[str, Any]) -> None:
        self.model = model
        with _engine_lock:
            self._decision = _engine.create_decision(json.dumps(model))
        self._rules = {
            (table.node_id, str(rule.get("_id"))): table.rule_inputs(rule)
            for table in models.tables(model)
            for rule in table.rules
        }
        self._table_by_path = {
            table.output_path.split(".", 1)[1]: table.node_id
            for table in models.tables(model)
            if table.output_path and table.output_path.startswith("hits.")
        }

    def run(self, application: dict[str, Any]) -> dict[str, Any]:
        """The model's raw result for an application."""
        out_of_range = unrepresentable_numbers(application)
        if out_of_range:
            raise EvaluationFailed(None, f"numbers out of the engine's range in {', '.join(out_of_range)}")
        try:
            return self._decision.evaluate(application)["result"]
        except RuntimeError as exc:
            raise EvaluationFailed(models.engine_node(exc), models.engine_message(exc)) from None

    def assess(self, application: dict[str, Any]) -> Assessment:
        """Evaluate an application and read the result as a decision with its hits."""
        return self.read(self.run(application))

    def read(self, result: dict[str, Any]) -> Assessment:
        hits = [self._hit(path, raw, result) for path, raw in _raw_hits(result)]
        deciding = [hit for hit in hits if hit.decision in PRECEDENCE]
        decision = max((hit.decision for hit in deciding), key=PRECEDENCE.__getitem__, default="approve")
        return Assessment(
            decision=decision,
            score=_number(result.get("score")),
            grade=result.get("grade") if result.get("grade") in GRADES else None,
            grade_reason=result.get("grade_reason"),
            route_to=_route_to(hits) if decision == "review" else None,
            flags=sorted({hit.flag for hit in hits if hit.flag}),
            hits=hits,
            missing_documents=list(result.get("missing_documents") or []),
            missing_fields=list(result.get("missing_fields") or []),
            scorecard=[item for item in result.get("scorecard") or [] if isinstance(item, dict)],
        )

    def _hit(self, path: str, raw: dict[str, Any], result: dict[str, Any]) -> Hit:
        table = self._table_by_path.get(path, path)
        rule_id = str(raw.get("rule_id"))
        read = self._rules.get((table, rule_id), [])
        return Hit(
            rule_id=rule_id,
            table=table,
            decision=raw.get("decision"),
            reason=str(raw.get("reason") or ""),
            route_to=raw.get("route_to"),
            flag=raw.get("flag"),
            inputs={name: _value_at(result, name) for name in read},
        )


def _raw_hits(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    groups = result.get("hits") or {}
    if not isinstance(groups, dict):
        return []
    return [
        (path, raw)
        for path, raws in groups.items()
        if isinstance(raws, list)
        for raw in raws
        if isinstance(raw, dict) and raw.get("rule_id")
    ]


def _route_to(hits: list[Hit]) -> str | None:
    routes = [hit.route_to for hit in hits if hit.decision == "review" and hit.route_to]
    for reviewer in REVIEWERS:
        if reviewer in routes:
            return reviewer
    return routes[0] if routes else None


def _value_at(result: dict[str, Any], dotted: str) -> Any:
    value: Any = result
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def validate(model: Any, product_features: dict[str, str]) -> list[Problem]:
    """Everything that keeps a model from being published, node by node (empty when it may be)."""
    problems = models.structure_problems(model)
    if problems:
        return problems
    problems = models.field_problems(model, features.known_fields(product_features)) + models.syntax_problems(model)
    if problems:
        return problems
    try:
        compiled = CompiledRuleset(model)
    except RuntimeError as exc:
        return [Problem(models.engine_node(exc) or "model", models.engine_message(exc))]
    return _run_problems(compiled, product_features)


def _run_problems(compiled: CompiledRuleset, product_features: dict[str, str]) -> list[Problem]:
    """Evaluate on a complete sample and on all-null input: a missing guard fails here, not on a customer."""
    samples = (
        ("完整样例", features.sample_application(product_features)),
        ("全部为空", features.null_application(product_features)),
    )
    problems = []
    for label, application in samples:
        try:
            result = compiled.run(application)
        except EvaluationFailed as exc:
            problems.append(Problem(exc.node or "model", f"用{label}输入求值失败: {exc}"))
            continue
        problems += _contract_problems(result, label)
    return problems


def _contract_problems(result: dict[str, Any], label: str) -> list[Problem]:
    problems = []
    if _number(result.get("score")) is None:
        problems.append(Problem("model", f"用{label}输入求值后没有得到数值型的 score"))
    if result.get("grade") not in GRADES:
        problems.append(Problem("model", f"用{label}输入求值后 grade 不是 A/B/C"))
    for path, raw in _raw_hits(result):
        if raw.get("decision") is not None and raw.get("decision") not in DECISIONS:
            problems.append(Problem(path, f"规则 {raw.get('rule_id')} 的结论必须是 approve、review 或 reject"))
    return problems
