"""Process definitions: admins draft, validate and publish a product's lifecycle; cases keep the version they
opened under. A product without a published definition of its own runs the default one (version 0)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import orm
from loanbridge.workflow.domain import processes as domain

DRAFT, PUBLISHED, RETIRED = "draft", "published", "retired"
# Cases only ever run under published versions, which never change: their parsed definitions are kept.
_published: dict[tuple[str, str, int], dict[str, Any]] = {}


def _check(definition: Any) -> None:
    found = domain.problems(definition)
    if found:
        raise InvalidInput("流程定义有误", code="invalid_process_definition", details={"fields": found})


def create_draft(uow: UnitOfWork, *, principal: Principal, product: str, definition: Any) -> dict[str, Any]:
    """Save a new draft version of a product's process (validated first: 422 naming what is wrong)."""
    _check(definition)
    table = orm.processes
    latest = uow.session.execute(sa.select(sa.func.max(table.c.version)).where(table.c.product == product)).scalar_one()
    row = {
        "product": product,
        "version": (latest or 0) + 1,
        "status": DRAFT,
        "definition": json.dumps(definition, ensure_ascii=False),
        "created_by": principal.subject,
        "created_at": naive_utc(clock.now()),
        "published_by": None,
        "published_at": None,
    }
    uow.session.execute(table.insert(), row)
    return answer(row)


def update_draft(
    uow: UnitOfWork, *, principal: Principal, product: str, version: int, definition: Any
) -> dict[str, Any]:
    """Replace a draft's definition; a published version is never changed (publish a new one)."""
    row = _row(uow, product, version)
    if row.status != DRAFT:
        raise Conflict("只能修改草稿版本", code="process_not_draft")
    _check(definition)
    text = json.dumps(definition, ensure_ascii=False)
    table = orm.processes
    uow.session.execute(
        table.update().where(table.c.product == product, table.c.version == version).values(definition=text)
    )
    return answer({**row._mapping, "definition": text})


def validate_version(uow: UnitOfWork, *, product: str, version: int) -> dict[str, Any]:
    """Check a stored version against the schema and the rules the schema cannot express."""
    found = domain.problems(json.loads(_row(uow, product, version).definition))
    return {"valid": not found, "errors": found}


def publish(uow: UnitOfWork, *, principal: Principal, product: str, version: int) -> dict[str, Any]:
    """Make a draft the product's process for new cases; the previous version retires (open cases keep it)."""
    row = _row(uow, product, version, for_update=True)
    if row.status != DRAFT:
        raise Conflict("只能发布草稿版本", code="process_not_draft")
    _check(json.loads(row.definition))
    table, now = orm.processes, naive_utc(clock.now())
    uow.session.execute(
        table.update().where(table.c.product == product, table.c.status == PUBLISHED).values(status=RETIRED)
    )
    uow.session.execute(
        table.update()
        .where(table.c.product == product, table.c.version == version)
        .values(status=PUBLISHED, published_by=principal.subject, published_at=now)
    )
    return answer({**row._mapping, "status": PUBLISHED, "published_by": principal.subject, "published_at": now})


def read_version(uow: UnitOfWork, *, product: str, version: int) -> dict[str, Any]:
    return answer(_row(uow, product, version)._mapping)


def read_published(uow: UnitOfWork, *, product: str) -> dict[str, Any]:
    table = orm.processes
    row = uow.session.execute(sa.select(table).where(table.c.product == product, table.c.status == PUBLISHED)).first()
    if row is None:
        raise NotFound("该产品没有已发布的流程")
    return answer(row._mapping)


def list_versions(uow: UnitOfWork, *, product: str | None) -> list[dict[str, Any]]:
    table = orm.processes
    query = sa.select(table).order_by(table.c.product, table.c.version)
    if product:
        query = query.where(table.c.product == product)
    return [answer(row._mapping) for row in uow.session.execute(query)]


def for_new_case(uow: UnitOfWork, product: str) -> tuple[int, dict[str, Any]]:
    """The version and definition a new case of ``product`` runs under."""
    table = orm.processes
    row = uow.session.execute(
        sa.select(table.c.version, table.c.definition).where(table.c.product == product, table.c.status == PUBLISHED)
    ).first()
    if row is None:
        return 0, domain.default_definition()
    return row.version, json.loads(row.definition)


def definition_of(uow: UnitOfWork, product: str, version: int) -> dict[str, Any]:
    """The definition a case runs under (the version it opened with)."""
    if version == 0:
        return domain.default_definition()
    key = (str(uow.database.engine.url), product, version)
    if key not in _published:
        row = _row(uow, product, version)
        definition: dict[str, Any] = json.loads(row.definition)
        if row.status == DRAFT:
            return definition
        _published[key] = definition
    return _published[key]


def _row(uow: UnitOfWork, product: str, version: int, *, for_update: bool = False) -> Any:
    table = orm.processes
    query = sa.select(table).where(table.c.product == product, table.c.version == version)
    row = uow.session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound("流程版本不存在")
    return row


def answer(row: Any) -> dict[str, Any]:
    data = dict(row)
    definition = data["definition"]
    return {
        "product": data["product"],
        "version": data["version"],
        "status": data["status"],
        "definition": json.loads(definition) if isinstance(definition, str) else definition,
        "created_by": data["created_by"],
        "created_at": clock.as_utc(data["created_at"]),
        "published_by": data.get("published_by"),
        "published_at": clock.as_utc(data["published_at"]) if data.get("published_at") else None,
    }
