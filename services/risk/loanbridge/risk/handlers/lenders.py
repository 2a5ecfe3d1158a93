"""The lenders' products the firm places loans with, and plan matching (方案匹配): an application against every
active lender product, the eligible ones ranked, and for each other one the criteria it failed.

A lender product has terms (the products of ours it takes, amount, term and rate ranges, cities) and admission
criteria as a decision model whose table lists, as hits, the criteria an application fails. Each change is a
new version; matches say which version they used."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.config import RiskConfig
from loanbridge.risk.domain import criteria as criteria_models
from loanbridge.risk.domain.engine import CompiledRuleset, EvaluationFailed
from loanbridge.risk.handlers.evaluations import refuse_unrepresentable_numbers


def create_lender_product(
    uow: UnitOfWork,
    *,
    principal: Principal,
    code: str,
    lender: str,
    name: str,
    terms: dict[str, Any],
    criteria: list[dict[str, Any]],
    note: str | None,
) -> dict[str, Any]:
    """Add a lender product (version 1)."""
    if uow.session.execute(sa.select(orm.lender_products.c.id).where(orm.lender_products.c.code == code)).first():
        raise Conflict("资方产品编码已存在", code="lender_product_code_taken")
    model = _checked_model(criteria)
    row = {
        "id": str(uuid.uuid4()),
        "code": code,
        "lender": lender,
        "name": name,
        "version": 1,
        "active": True,
        "terms": json.dumps(terms, ensure_ascii=False),
        "criteria": json.dumps(model, ensure_ascii=False),
        "updated_by": principal.subject,
        "updated_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.lender_products.insert(), row)
    _keep_version(uow, row, note)
    return lender_product_answer(orm.lender_product(uow.session, row["id"]))


def update_lender_product(
    uow: UnitOfWork,
    *,
    principal: Principal,
    product_id: str,
    terms: dict[str, Any],
    criteria: list[dict[str, Any]],
    active: bool,
    note: str | None,
) -> dict[str, Any]:
    """Change a lender product's terms or criteria: a new version (matches made before keep theirs)."""
    current = orm.lender_product(uow.session, product_id)
    if current is None:
        raise NotFound("资方产品不存在")
    model = _checked_model(criteria)
    values = {
        "version": current.version + 1,
        "active": active,
        "terms": json.dumps(terms, ensure_ascii=False),
        "criteria": json.dumps(model, ensure_ascii=False),
        "updated_by": principal.subject,
        "updated_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.lender_products.update().where(orm.lender_products.c.id == product_id).values(**values))
    _keep_version(uow, {"id": product_id, **values}, note)
    return lender_product_answer(orm.lender_product(uow.session, product_id))


def list_lender_products(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.execute(
        sa.select(orm.lender_products).order_by(orm.lender_products.c.lender, orm.lender_products.c.code)
    )
    return [lender_product_answer(row) for row in rows]


def match(
    uow: UnitOfWork,
    *,
    config: RiskConfig,
    product: str,
    amount: float,
    term_months: int,
    city: str | None,
    features: dict[str, Any],
) -> dict[str, Any]:
    """Every active lender product judged against the application: eligible ones ranked, the rest explained."""
    refuse_unrepresentable_numbers(features, prefix="features.")
    refuse_unrepresentable_numbers({"amount": amount})
    application = {**features, "product": product, "amount": amount, "term_months": term_months, "city": city}
    rows = uow.session.execute(sa.select(orm.lender_products).where(orm.lender_products.c.active.is_(True)))
    eligible, ineligible = [], []
    for row in rows:
        failed = criteria_models.term_failures(json.loads(row.terms), application) + _criteria_failures(
            config, row, application
        )
        entry = {**_summary(row), "failed": failed}
        (ineligible if failed else eligible).append(entry)
    eligible.sort(key=lambda e: (e["terms"].get("rate_min", 0), -e["terms"].get("max_amount", 0), e["code"]))
    for rank, entry in enumerate(eligible, start=1):
        entry["rank"] = rank
    return {"eligible": eligible, "ineligible": sorted(ineligible, key=lambda e: e["code"])}


def _criteria_failures(config: RiskConfig, row: Any, application: dict[str, Any]) -> list[dict[str, Any]]:
    key = (f"lender:{row.id}", row.version)
    if key not in config.compiled:
        config.compiled[key] = CompiledRuleset(json.loads(row.criteria))
    try:
        hits = config.compiled[key].assess(application).hits
    except EvaluationFailed:
        return [{"criterion": "model_error", "reason": "准入条件求值出错", "inputs": {}}]
    return [{"criterion": hit.rule_id, "reason": hit.reason, "inputs": hit.inputs} for hit in hits]


def _checked_model(criteria: list[dict[str, Any]]) -> dict[str, Any]:
    problems = criteria_models.problems(criteria)
    if problems:
        raise InvalidInput("准入条件有误", code="invalid_criteria", details={"fields": problems})
    return criteria_models.criteria_model(criteria)


def _keep_version(uow: UnitOfWork, row: dict[str, Any], note: str | None) -> None:
    uow.session.execute(
        orm.lender_product_versions.insert(),
        {
            "lender_product_id": row["id"],
            "version": row["version"],
            "terms": row["terms"],
            "criteria": row["criteria"],
            "note": note,
            "created_by": row["updated_by"],
            "created_at": row["updated_at"],
        },
    )


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "code": row.code,
        "lender": row.lender,
        "name": row.name,
        "version": row.version,
        "terms": json.loads(row.terms),
    }


def lender_product_answer(row: Any) -> dict[str, Any]:
    return {
        **_summary(row),
        "active": row.active,
        "criteria": criteria_models.criteria_of(json.loads(row.criteria)),
        "updated_by": row.updated_by,
        "updated_at": clock.as_utc(row.updated_at),
    }
