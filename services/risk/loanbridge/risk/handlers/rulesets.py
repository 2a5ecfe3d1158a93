"""Rule sets with four eyes: a risk officer drafts, a second person with the risk_director role approves, and
an approved version is published (the one before it retired; a rollback republishes an earlier one). Every
step is in the history with who, when and a note; the diff is computed against the version before."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, Forbidden, InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.config import RiskConfig
from loanbridge.risk.domain import engine, models
from loanbridge.risk.domain.engine import CompiledRuleset


def save_draft(uow: UnitOfWork, *, principal: Principal, product: str, model: Any, note: str | None) -> dict[str, Any]:
    """Save a new draft version of a product's rule set once it passes validation (422 naming the node)."""
    check_model(uow.session, product, model)
    version = orm.latest_version(uow.session, product) + 1
    row = {
        "id": str(uuid.uuid4()),
        "product": product,
        "version": version,
        "status": "draft",
        "model": json.dumps(model, ensure_ascii=False, separators=(",", ":")),
        "engine_version": engine.ENGINE_VERSION,
        "note": note,
        "created_by": principal.subject,
        "created_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.rulesets.insert(), row)
    _record(uow, product, version, "drafted", principal.subject, note)
    return ruleset_answer(orm.ruleset(uow.session, product, version))


def approve(uow: UnitOfWork, *, principal: Principal, product: str, version: int, note: str | None) -> dict[str, Any]:
    """A risk director other than its author approves a draft (maker-checker)."""
    row = _existing(uow.session, product, version)
    if row.status != "draft":
        raise Conflict("只有草稿可以审批", code="ruleset_not_draft")
    if row.created_by == principal.subject:
        raise Forbidden("规则集的起草人不能审批自己的草稿", code="four_eyes_required")
    check_model(uow.session, product, json.loads(row.model))
    _set_status(uow, row, "approved", approved_by=principal.subject, approved_at=naive_utc(clock.now()))
    _record(uow, product, version, "approved", principal.subject, note)
    return ruleset_answer(orm.ruleset(uow.session, product, version))


def publish(
    uow: UnitOfWork, *, config: RiskConfig, principal: Principal, product: str, version: int, note: str | None
) -> dict[str, Any]:
    """Make an approved version the one every new evaluation of the product uses."""
    row = _existing(uow.session, product, version)
    if row.status != "approved":
        raise Conflict("只有已审批的版本可以发布", code="ruleset_not_approved")
    _make_published(uow, config, row, principal.subject)
    _record(uow, product, version, "published", principal.subject, note)
    return ruleset_answer(orm.ruleset(uow.session, product, version))


def roll_back(
    uow: UnitOfWork, *, config: RiskConfig, principal: Principal, product: str, to_version: int, note: str
) -> dict[str, Any]:
    """Republish a version that was published before; the current one is marked rolled back."""
    row = _existing(uow.session, product, to_version)
    if row.status not in ("retired", "rolled_back"):
        raise Conflict("只能回滚到曾经发布过的版本", code="ruleset_never_published")
    current = orm.published_ruleset(uow.session, product)
    if current is not None:
        _set_status(uow, current, "rolled_back")
        _record(uow, product, current.version, "rolled_back", principal.subject, note)
    _make_published(uow, config, row, principal.subject)
    _record(uow, product, to_version, "republished", principal.subject, note)
    return ruleset_answer(orm.ruleset(uow.session, product, to_version))


def check_model(session: Session, product: str, model: Any) -> None:
    """422 naming each node that keeps the model from being published."""
    problems = engine.validate(model, product_facts(session, product).features)
    if problems:
        raise InvalidInput(
            "规则集校验未通过", code="invalid_ruleset", details={"problems": [p.as_dict() for p in problems]}
        )


@dataclass(frozen=True)
class ProductFacts:
    """What intake announced of a product's published form: its own risk features (name -> JSON type) and the
    document types a complete application needs (None while nothing was announced)."""

    features: dict[str, str]
    required_documents: list[str] | None


def product_facts(session: Session, product: str) -> ProductFacts:
    row = orm.product(session, product)
    if row is None:
        return ProductFacts(features={}, required_documents=None)
    return ProductFacts(features=json.loads(row.features), required_documents=json.loads(row.required_documents))


def compiled(session: Session, config: RiskConfig, product: str) -> tuple[int, CompiledRuleset] | None:
    """The product's published rule set, compiled (None when the product has none)."""
    version = config.published.get(product, lambda: _published_version(session, product))
    if version is None:
        return None
    return version, compiled_version(session, config, product, version)


def compiled_version(session: Session, config: RiskConfig, product: str, version: int) -> CompiledRuleset:
    key = (product, version)
    if key not in config.compiled:
        config.compiled[key] = CompiledRuleset(json.loads(_existing(session, product, version).model))
    return config.compiled[key]


def history(uow: UnitOfWork, *, product: str) -> list[dict[str, Any]]:
    """Every version of a product's rule set, newest first, each with its steps and its diff to the one before."""
    session = uow.session
    rows = session.execute(
        sa.select(orm.rulesets).where(orm.rulesets.c.product == product).order_by(orm.rulesets.c.version)
    ).all()
    if not rows:
        raise NotFound("该产品没有规则集")
    steps = session.execute(
        sa.select(orm.ruleset_history)
        .where(orm.ruleset_history.c.product == product)
        .order_by(orm.ruleset_history.c.id)
    ).all()
    answers, before = [], None
    for row in rows:
        model = json.loads(row.model)
        answers.append(
            {
                **ruleset_answer(row),
                "steps": [_step(step) for step in steps if step.version == row.version],
                "diff": models.diff(before, model),
            }
        )
        before = model
    return list(reversed(answers))


def read(uow: UnitOfWork, *, product: str, version: int | None) -> dict[str, Any]:
    """A version of a product's rule set with its model (the published one when no version is given)."""
    row = orm.published_ruleset(uow.session, product) if version is None else orm.ruleset(uow.session, product, version)
    if row is None:
        raise NotFound("规则集不存在")
    return {**ruleset_answer(row), "model": json.loads(row.model)}


def list_rulesets(uow: UnitOfWork) -> list[dict[str, Any]]:
    """The published version of every product."""
    rows = uow.session.execute(
        sa.select(orm.rulesets).where(orm.rulesets.c.status == "published").order_by(orm.rulesets.c.product)
    )
    return [ruleset_answer(row) for row in rows]


def ruleset_answer(row: Any) -> dict[str, Any]:
    return {
        "product": row.product,
        "version": row.version,
        "status": row.status,
        "engine_version": row.engine_version,
        "note": row.note,
        "created_by": row.created_by,
        "created_at": clock.as_utc(row.created_at),
        "approved_by": row.approved_by,
        "approved_at": clock.as_utc(row.approved_at) if row.approved_at else None,
        "published_by": row.published_by,
        "published_at": clock.as_utc(row.published_at) if row.published_at else None,
    }


def _published_version(session: Session, product: str) -> int | None:
    row = orm.published_ruleset(session, product)
    return row.version if row else None


def _make_published(uow: UnitOfWork, config: RiskConfig, row: Any, actor: str) -> None:
    current = orm.published_ruleset(uow.session, row.product)
    if current is not None and current.version != row.version:
        _set_status(uow, current, "retired")
    _set_status(uow, row, "published", published_by=actor, published_at=naive_utc(clock.now()))
    config.published.forget(row.product)


def _existing(session: Session, product: str, version: int) -> Any:
    row = orm.ruleset(session, product, version, for_update=True)
    if row is None:
        raise NotFound("规则集版本不存在")
    return row


def _set_status(uow: UnitOfWork, row: Any, status: str, **values: Any) -> None:
    uow.session.execute(
        orm.rulesets.update()
        .where(orm.rulesets.c.product == row.product, orm.rulesets.c.version == row.version)
        .values(status=status, **values)
    )


def _record(uow: UnitOfWork, product: str, version: int, action: str, actor: str, note: str | None) -> None:
    uow.session.execute(
        orm.ruleset_history.insert(),
        {
            "product": product,
            "version": version,
            "action": action,
            "actor": actor,
            "note": note,
            "at": naive_utc(clock.now()),
        },
    )


def _step(step: Any) -> dict[str, Any]:
    return {"action": step.action, "actor": step.actor, "note": step.note, "at": clock.as_utc(step.at)}
