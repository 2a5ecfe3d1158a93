"""Products and their forms: admins add products, save form drafts, and publish them; leads keep the version they
were filled with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.errors import Conflict, InvalidInput, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain.forms import FormDefinition, definition_errors
from loanbridge.intake.views import form_answer


@dataclass(frozen=True)
class PublishedForm:
    product: str
    version: int
    definition: FormDefinition


def create_product(uow: UnitOfWork, *, config: IntakeConfig, code: str, name: str) -> dict[str, Any]:
    """Add a product; leads can name it once a form for it is published."""
    if uow.session.execute(sa.select(orm.products.c.code).where(orm.products.c.code == code)).first():
        raise Conflict("产品编码已存在", code="product_code_taken")
    row = {"code": code, "name": name, "active": True, "created_at": naive_utc(clock.now())}
    uow.session.execute(orm.products.insert(), row)
    config.forms.forget(code)
    return {**row, "published_version": None}


def save_form_draft(
    uow: UnitOfWork, *, product: str, definition: dict[str, Any], note: str | None, actor: str
) -> dict[str, Any]:
    """Save a new draft version of a product's form, after checking it is a well-formed form."""
    _existing_product(uow.session, product)
    problems = definition_errors(definition)
    if problems:
        raise InvalidInput("表单定义有误", code="invalid_form_definition", details={"fields": {"definition": problems}})
    version = (
        uow.session.execute(
            sa.select(sa.func.max(orm.product_forms.c.version)).where(orm.product_forms.c.product == product)
        ).scalar_one_or_none()
        or 0
    ) + 1
    row = {
        "product": product,
        "version": version,
        "status": "draft",
        "definition": json.dumps(definition, ensure_ascii=False),
        "note": note,
        "created_by": actor,
        "created_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.product_forms.insert(), row)
    return form_answer(row)


def publish_form(uow: UnitOfWork, *, config: IntakeConfig, product: str, version: int, actor: str) -> dict[str, Any]:
    """Make a draft the product's form; the one published before it is retired (its leads keep it)."""
    forms = orm.product_forms
    row = uow.session.execute(
        sa.select(forms).where(forms.c.product == product, forms.c.version == version).with_for_update()
    ).first()
    if row is None:
        raise NotFound("表单版本不存在")
    if row.status != "draft":
        raise Conflict("只能发布草稿版本", code="form_not_draft")
    now = naive_utc(clock.now())
    uow.session.execute(
        forms.update().where(forms.c.product == product, forms.c.status == "published").values(status="retired")
    )
    uow.session.execute(
        forms.update()
        .where(forms.c.product == product, forms.c.version == version)
        .values(status="published", published_by=actor, published_at=now)
    )
    config.forms.forget(product)
    emit_product_published(uow, product=product, version=version, definition=FormDefinition(json.loads(row.definition)))
    return form_answer({**row._mapping, "status": "published", "published_by": actor, "published_at": now})


def emit_product_published(uow: UnitOfWork, *, product: str, version: int, definition: FormDefinition) -> None:
    """``intake.product.published``: the form's risk features and required documents, for risk's rule sets."""
    uow.emit(
        "intake.product.published",
        subject=f"product:{product}",
        data={
            "product": product,
            "form_version": version,
            "risk_features": definition.risk_feature_types(),
            "required_documents": definition.required_documents,
        },
    )


def published_form(session: Session, config: IntakeConfig, product: str) -> PublishedForm:
    """The form leads of a product are filled with now (cached for a few seconds per process)."""

    def load() -> PublishedForm | None:
        row = session.execute(
            sa.select(orm.product_forms.c.version, orm.product_forms.c.definition)
            .join(orm.products, orm.products.c.code == orm.product_forms.c.product)
            .where(
                orm.product_forms.c.product == product,
                orm.product_forms.c.status == "published",
                orm.products.c.active.is_(True),
            )
        ).first()
        if row is None:
            return None
        return PublishedForm(product, row.version, FormDefinition(json.loads(row.definition)))

    found = config.forms.get(product, load)
    if found is None:
        raise InvalidInput.for_field("product", "产品不存在、已停用或尚未发布申请表")
    return found


def form_version(session: Session, product: str, version: int) -> FormDefinition:
    """A given version of a product's form (what a lead was filled with)."""
    row = session.execute(
        sa.select(orm.product_forms.c.definition).where(
            orm.product_forms.c.product == product, orm.product_forms.c.version == version
        )
    ).first()
    if row is None:
        raise NotFound("表单版本不存在")
    return FormDefinition(json.loads(row.definition))


def _existing_product(session: Session, code: str) -> Any:
    row = session.execute(sa.select(orm.products).where(orm.products.c.code == code)).first()
    if row is None:
        raise NotFound("产品不存在")
    return row
