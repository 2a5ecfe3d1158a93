"""Evaluations: every submitted application is reviewed by its product's published rule set the moment it
arrives; the inputs, the outcome and every hit are stored with the version used, and published as
``risk.evaluation.completed``. The same review runs as a dry run for staff and partners, and over stored
inputs to simulate a draft before it is published."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Histogram

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.metrics import LATENCY_BUCKETS
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.config import RiskConfig
from loanbridge.risk.domain import applications, engine
from loanbridge.risk.domain.engine import Assessment, CompiledRuleset, EvaluationFailed, Hit
from loanbridge.risk.handlers import grades, rulesets

EVALUATIONS = Counter(
    "loanbridge_risk_evaluations_total", "Applications evaluated, by product and decision", ["product", "decision"]
)
EVALUATION_SECONDS = Histogram(
    "loanbridge_risk_evaluation_seconds", "Time to evaluate one application", buckets=LATENCY_BUCKETS
)
NO_RULESET = Hit(
    rule_id="NO_PUBLISHED_RULESET",
    table="system",
    decision="review",
    reason="该产品尚无已发布的规则集,需人工审核",
    route_to="risk_officer",
    flag="no_ruleset",
    inputs={},
)


def on_application_submitted(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.application.submitted``: evaluate, store, publish, and re-grade the customer."""
    config: RiskConfig = uow.config
    data = event.data
    application = applications.from_submission(data)
    version, assessment = _assess(uow, config, data["product"], application)
    evaluation_id = str(uuid.uuid4())
    when = clock.parse_iso(event.time)
    _store(uow, evaluation_id, data, application, version, assessment, when)
    uow.emit(
        "risk.evaluation.completed",
        subject=data["lead_id"],
        occurred_at=when,
        data=completed_event(evaluation_id, data, version, assessment),
    )
    if assessment.grade:
        reasons = [assessment.grade_reason] if assessment.grade_reason else []
        grades.set_grade(uow, data["customer_id"], data["lead_id"], assessment.grade, reasons, when)
    EVALUATIONS.labels(product=data["product"], decision=assessment.decision).inc()


def dry_run(
    uow: UnitOfWork, *, config: RiskConfig, product: str, features: dict[str, Any], documents: list[str] | None
) -> dict[str, Any]:
    """Evaluate an application without storing anything (pre-screening)."""
    facts = rulesets.product_facts(uow.session, product)
    unknown = applications.unknown_features(features, facts.features)
    if unknown:
        raise InvalidInput(
            "包含未知的风控特征",
            code="unknown_features",
            details={"fields": {f"features.{name}": ["不是已知的风控特征"] for name in unknown}},
        )
    refuse_unrepresentable_numbers(features, prefix="features.")
    application = applications.for_dry_run(product, features, documents, facts.required_documents)
    version, assessment = _assess(uow, config, product, application)
    return {**answer(assessment), "ruleset_version": version}


def refuse_unrepresentable_numbers(values: dict[str, Any], *, prefix: str = "") -> None:
    """A 422 naming every field whose number the rule engine cannot evaluate (NaN, infinite, or too large)."""
    wrong = engine.unrepresentable_numbers(values)
    if wrong:
        raise InvalidInput(
            "数值超出可评估的范围",
            code="number_out_of_range",
            details={"fields": {f"{prefix}{name}": ["数值超出可评估的范围"] for name in wrong}},
        )


def simulate(
    uow: UnitOfWork,
    *,
    config: RiskConfig,
    product: str,
    version: int,
    last: int | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    """Run a version (a draft, typically) over stored applications; the decision mix before and after, and
    every application whose decision changes."""
    draft = rulesets.compiled_version(uow.session, config, product, version)
    stored = _stored_inputs(uow, product, last, since, until)
    changed, before, after = [], _Mix(), _Mix()
    for row in stored:
        now = _assess_with(draft, json.loads(row.inputs))
        before.add(row.decision)
        after.add(now.decision)
        if now.decision != row.decision:
            changed.append(
                {
                    "evaluation_id": row.id,
                    "lead_id": row.lead_id,
                    "before": row.decision,
                    "after": now.decision,
                    "hits": [h.rule_id for h in now.hits if h.decision],
                }
            )
    return {
        "product": product,
        "version": version,
        "evaluations": len(stored),
        "before": before.answer(),
        "after": after.answer(),
        "changed_count": len(changed),
        "changed": changed,
    }


def answer(assessment: Assessment) -> dict[str, Any]:
    """The evaluation as the API and the event show it."""
    return {
        "decision": assessment.decision,
        "score": assessment.score,
        "grade": assessment.grade,
        "route_to": assessment.route_to,
        "flags": assessment.flags,
        "hits": [_hit_answer(hit) for hit in assessment.hits],
        "missing_documents": assessment.missing_documents,
        "missing_fields": assessment.missing_fields,
        "reasons": _reasons(assessment),
        "supplement_required": _supplement_required(assessment),
    }


def completed_event(evaluation_id: str, data: dict[str, Any], version: int | None, assessment: Assessment) -> dict:
    return {
        "evaluation_id": evaluation_id,
        "lead_id": data["lead_id"],
        "customer_id": data["customer_id"],
        "product": data["product"],
        "ruleset_version": version,
        **answer(assessment),
    }


def _assess(
    uow: UnitOfWork, config: RiskConfig, product: str, application: dict[str, Any]
) -> tuple[int | None, Assessment]:
    found = rulesets.compiled(uow.session, config, product)
    if found is None:
        return None, _needs_a_person(application)
    version, ruleset = found
    return version, _assess_with(ruleset, application)


def _assess_with(ruleset: CompiledRuleset, application: dict[str, Any]) -> Assessment:
    started = time.perf_counter()
    try:
        return ruleset.assess(application)
    except EvaluationFailed as exc:
        # A published model that fails on a real file is a bug in the model: a person reviews the file.
        failed = Hit(
            "MODEL_ERROR", exc.node or "model", "review", "规则集求值出错,需人工审核", "risk_officer", "model_error", {}
        )
        return _needs_a_person(application, failed)
    finally:
        EVALUATION_SECONDS.observe(time.perf_counter() - started)


def _needs_a_person(application: dict[str, Any], hit: Hit = NO_RULESET) -> Assessment:
    return Assessment(
        decision="review",
        score=None,
        grade=None,
        grade_reason=None,
        route_to=hit.route_to,
        flags=[hit.flag] if hit.flag else [],
        hits=[hit],
        missing_documents=applications.missing_documents(application),
        missing_fields=list(application.get("missing_fields") or []),
    )


def _store(
    uow: UnitOfWork,
    evaluation_id: str,
    data: dict[str, Any],
    application: dict[str, Any],
    version: int | None,
    assessment: Assessment,
    when: datetime,
) -> None:
    uow.session.execute(
        orm.evaluations.insert(),
        {
            "id": evaluation_id,
            "lead_id": data["lead_id"],
            "customer_id": data["customer_id"],
            "product": data["product"],
            "ruleset_version": version,
            "engine_version": engine.ENGINE_VERSION,
            "decision": assessment.decision,
            "score": assessment.score,
            "grade": assessment.grade,
            "route_to": assessment.route_to,
            "inputs": json.dumps(application, ensure_ascii=False, default=str),
            "outcome": json.dumps(assessment.as_dict(), ensure_ascii=False, default=str),
            "created_at": naive_utc(when),
        },
    )
    if assessment.flags:
        uow.session.execute(
            orm.evaluation_flags.insert(), [{"evaluation_id": evaluation_id, "flag": flag} for flag in assessment.flags]
        )


def _stored_inputs(
    uow: UnitOfWork, product: str, last: int | None, since: datetime | None, until: datetime | None
) -> list[Any]:
    table = orm.evaluations
    query = sa.select(table.c.id, table.c.lead_id, table.c.decision, table.c.inputs).where(table.c.product == product)
    if since is not None:
        query = query.where(table.c.created_at >= naive_utc(since))
    if until is not None:
        query = query.where(table.c.created_at < naive_utc(until))
    query = query.order_by(table.c.created_at.desc(), table.c.id.desc())
    if last is not None:
        query = query.limit(last)
    return list(uow.session.execute(query))


class _Mix:
    """Counts and rates of decisions."""

    def __init__(self) -> None:
        self.counts = {"approve": 0, "review": 0, "reject": 0}

    def add(self, decision: str) -> None:
        self.counts[decision] = self.counts.get(decision, 0) + 1

    def answer(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        rates = {name: round(count / total, 4) if total else 0.0 for name, count in self.counts.items()}
        return {"counts": dict(self.counts), "rates": rates}


def _hit_answer(hit: Hit) -> dict[str, Any]:
    return {
        "rule_id": hit.rule_id,
        "table": hit.table,
        "decision": hit.decision,
        "reason": hit.reason,
        "route_to": hit.route_to,
        "flag": hit.flag,
        "inputs": hit.inputs,
    }


def _reasons(assessment: Assessment) -> list[str]:
    deciding = [hit.reason for hit in assessment.hits if hit.decision == assessment.decision and hit.reason]
    return list(dict.fromkeys(deciding))


def _supplement_required(assessment: Assessment) -> bool:
    """A reject for 补充材料: the file lacks a required document or key field, so it goes back to its owner."""
    return assessment.decision == "reject" and bool(assessment.missing_documents or assessment.missing_fields)
