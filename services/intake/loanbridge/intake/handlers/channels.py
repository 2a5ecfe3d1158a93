"""Channels and partner quotas: the registry every lead names, and each partner's requests per minute."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.errors import Conflict, NotFound
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.domain import quota
from loanbridge.intake.domain.leads import money


def _now() -> datetime:
    return naive_utc(clock.now())


# --- partner quota ------------------------------------------------------------------------------------------
def consume_partner_quota(connection: sa.Connection, *, config: IntakeConfig, partner_id: str) -> int | None:
    """Count one request against the partner's minute; return seconds to wait when over quota, else None.

    Runs on an autocommit connection, outside the lead's transaction: one statement, and the counter row is
    never held locked while a lead is written.
    """
    now = clock.now()
    window = quota.window_start(now)
    limit = config.quotas.get(
        partner_id, lambda: orm.partner_quota(connection, partner_id) or config.partner_quota_per_minute
    )
    used = orm.count_quota_use(connection, partner_id, window)
    if used == 1:
        orm.forget_old_quota_windows(connection, partner_id, window)
    return quota.retry_after(now) if limit is not None and used > limit else None


def set_partner_quota(uow: UnitOfWork, *, config: IntakeConfig, partner_id: str, per_minute: int) -> dict[str, Any]:
    """Set a partner's requests-per-minute quota."""
    table = orm.partner_quotas
    if orm.partner_quota(uow.session, partner_id) is None:
        uow.session.execute(table.insert().values(partner_id=partner_id, per_minute=per_minute))
    else:
        uow.session.execute(table.update().where(table.c.partner_id == partner_id).values(per_minute=per_minute))
    config.quotas.forget(partner_id)
    return {"partner_id": partner_id, "per_minute": per_minute}


# --- channels -----------------------------------------------------------------------------------------------
def create_channel(uow: UnitOfWork, *, code: str, name: str, kind: str, partner_id: str | None) -> dict[str, Any]:
    """Register a lead channel; a partner's channel names the partner."""
    if orm.channel_by_code(uow.session, code) is not None:
        raise Conflict("渠道编码已存在", code="channel_code_taken")
    if partner_id and orm.channel_of_partner(uow.session, partner_id) is not None:
        raise Conflict("该合作方已有渠道", code="partner_channel_exists")
    row = {
        "code": code,
        "name": name,
        "kind": kind,
        "partner_id": partner_id,
        "active": True,
        "created_at": _now(),
    }
    uow.session.execute(orm.channels.insert().values(**row))
    return row


# --- spend ----------------------------------------------------------------------------------------------------
def record_spend(uow: UnitOfWork, *, principal: Any, channel: str, month: str, amount: Any) -> dict[str, Any]:
    """A channel's spend for a month (replaces what was recorded before); reporting derives cost per lead and
    per funded loan from it."""
    if orm.channel_by_code(uow.session, channel) is None:
        raise NotFound("渠道不存在")
    spend = orm.channel_spend
    row = {"channel": channel, "month": month, "amount": amount, "recorded_by": principal.subject,
           "recorded_at": _now()}  # fmt: skip
    updated = uow.session.execute(
        spend.update()
        .where(spend.c.channel == channel, spend.c.month == month)
        .values(amount=amount, recorded_by=principal.subject, recorded_at=row["recorded_at"])
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        uow.session.execute(spend.insert(), row)
    uow.emit(
        "intake.channel.spend_recorded",
        subject=f"{channel}:{month}",
        data={"channel": channel, "month": month, "amount": money(amount)},
    )
    return {"channel": channel, "month": month, "amount": money(amount), "recorded_by": principal.subject}


def list_spend(uow: UnitOfWork, *, channel: str) -> list[dict[str, Any]]:
    spend = orm.channel_spend
    rows = uow.session.execute(sa.select(spend).where(spend.c.channel == channel).order_by(spend.c.month.desc()))
    return [
        {"channel": row.channel, "month": row.month, "amount": money(row.amount), "recorded_by": row.recorded_by}
        for row in rows
    ]
