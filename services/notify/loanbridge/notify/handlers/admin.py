"""Policies and templates as records an administrator edits; a change takes effect on the next event."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput, NotFound
from loanbridge.common.events.catalog import EVENT_TYPES
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm
from loanbridge.notify.domain import policies
from loanbridge.notify.domain.templates import TemplateInvalid, compile_check


def template_answer(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "title": row.title,
        "body": row.body,
        "marketing": bool(row.marketing),
        "sms_template_code": row.sms_template_code,
        "sms_params": orm.loads(row.sms_params) or {},
        "version": row.version,
        "updated_by": row.updated_by,
        "updated_at": clock.as_utc(row.updated_at),
    }


def policy_answer(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event_type": row.event_type,
        "condition": orm.loads(row.condition) or {},
        "recipients": orm.loads(row.recipients),
        "channels": orm.loads(row.channels),
        "template": row.template,
        "timing": orm.loads(row.timing) or {},
        "active": bool(row.active),
        "version": row.version,
        "updated_by": row.updated_by,
        "updated_at": clock.as_utc(row.updated_at),
    }


def list_templates(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [
        template_answer(row) for row in uow.session.execute(sa.select(orm.templates).order_by(orm.templates.c.code))
    ]


def read_template(uow: UnitOfWork, *, code: str) -> dict[str, Any]:
    row = orm.template(uow.session, code)
    if row is None:
        raise NotFound("模板不存在")
    return template_answer(row)


def save_template(uow: UnitOfWork, *, actor: str, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Create or change a template; a body that is not valid Jinja2 is refused with the field named."""
    current = orm.template(uow.session, code)
    merged = {**(template_answer(current) if current else {}), **changes}
    for name in ("title", "body"):
        if not merged.get(name):
            raise InvalidInput.for_field(name, "此字段为必填项")
    try:
        compile_check(merged["title"], merged["body"])
        for expression in (merged.get("sms_params") or {}).values():
            compile_check("", expression)
    except TemplateInvalid as exc:
        raise InvalidInput(
            "模板语法错误", code="template_invalid", details={"fields": {"body": [str(exc)[:200]]}}
        ) from exc
    values = {
        "title": merged["title"],
        "body": merged["body"],
        "marketing": bool(merged.get("marketing", False)),
        "sms_template_code": merged.get("sms_template_code"),
        "sms_params": orm.dumps(merged.get("sms_params") or {}),
        "version": (current.version + 1) if current else 1,
        "updated_by": actor,
        "updated_at": naive_utc(clock.now()),
    }
    if current is None:
        uow.session.execute(orm.templates.insert().values(code=code, **values))
    else:
        uow.session.execute(orm.templates.update().where(orm.templates.c.code == code).values(**values))
    return read_template(uow, code=code)


def list_policies(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [policy_answer(row) for row in uow.session.execute(sa.select(orm.policies).order_by(orm.policies.c.id))]


def read_policy(uow: UnitOfWork, *, policy_id: str) -> dict[str, Any]:
    row = uow.session.execute(sa.select(orm.policies).where(orm.policies.c.id == policy_id)).first()
    if row is None:
        raise NotFound("策略不存在")
    return policy_answer(row)


def save_policy(uow: UnitOfWork, *, actor: str, policy_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Create or change a policy; unknown events, recipients, channels or templates are refused."""
    current = uow.session.execute(sa.select(orm.policies).where(orm.policies.c.id == policy_id)).first()
    merged = {**(policy_answer(current) if current else {}), **changes}
    _check_policy(uow, merged)
    values = {
        "event_type": merged["event_type"],
        "condition": orm.dumps(merged.get("condition") or {}),
        "recipients": orm.dumps(merged["recipients"]),
        "channels": orm.dumps(merged["channels"]),
        "template": merged["template"],
        "timing": orm.dumps(merged.get("timing") or {"kind": "now"}),
        "active": bool(merged.get("active", True)),
        "version": (current.version + 1) if current else 1,
        "updated_by": actor,
        "updated_at": naive_utc(clock.now()),
    }
    if current is None:
        uow.session.execute(orm.policies.insert().values(id=policy_id, **values))
    else:
        uow.session.execute(orm.policies.update().where(orm.policies.c.id == policy_id).values(**values))
    return read_policy(uow, policy_id=policy_id)


def _check_policy(uow: UnitOfWork, policy: dict[str, Any]) -> None:
    if policy.get("event_type") not in EVENT_TYPES:
        raise InvalidInput.for_field("event_type", "未知的事件类型")
    if not policy.get("recipients") or not all(policies.is_valid_recipient(r) for r in policy["recipients"]):
        raise InvalidInput.for_field("recipients", "接收人无效")
    if not policy.get("channels") or not set(policy["channels"]) <= set(policies.CHANNELS):
        raise InvalidInput.for_field("channels", "渠道无效")
    if orm.template(uow.session, policy.get("template") or "") is None:
        raise InvalidInput.for_field("template", "模板不存在")
    if (policy.get("timing") or {}).get("kind", "now") not in policies.TIMINGS:
        raise InvalidInput.for_field("timing", "发送时间设置无效")
