"""The firm's blacklist: ID numbers and mobiles, kept as blind indexes with a masked form, a reason and who added
them. A submission carries ``blacklisted`` for risk's rules."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import InvalidInput, NotFound
from loanbridge.common.pii.masking import mask_id_number, mask_mobile
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig


def add_to_blacklist(
    uow: UnitOfWork,
    *,
    config: IntakeConfig,
    principal: Principal,
    id_number: str | None,
    mobile: str | None,
    reason: str,
) -> dict[str, Any]:
    """Blacklist a person by ID number or mobile (one of them)."""
    if bool(id_number) == bool(mobile):
        raise InvalidInput.for_field("id_number", "请填写身份证号或手机号中的一项")
    entry = {
        "id": str(uuid.uuid4()),
        "id_number_bidx": config.blind_index.of("id_number", id_number) if id_number else None,
        "mobile_bidx": config.blind_index.of("mobile", mobile) if mobile else None,
        "masked": mask_id_number(id_number) if id_number else mask_mobile(mobile or ""),
        "reason": reason,
        "added_by": principal.subject,
        "added_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.blacklist.insert(), entry)
    return blacklist_answer(entry)


def remove_from_blacklist(uow: UnitOfWork, *, principal: Principal, entry_id: str) -> None:
    """Take an entry off the blacklist (it stays in the record, with who removed it)."""
    updated = uow.session.execute(
        orm.blacklist.update()
        .where(orm.blacklist.c.id == entry_id, orm.blacklist.c.removed_at.is_(None))
        .values(removed_by=principal.subject, removed_at=naive_utc(clock.now()))
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("黑名单记录不存在")


def list_blacklist(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.execute(
        sa.select(orm.blacklist).where(orm.blacklist.c.removed_at.is_(None)).order_by(orm.blacklist.c.added_at.desc())
    )
    return [blacklist_answer(row._mapping) for row in rows]


def is_blacklisted(session: Session, *, id_number_bidx: str | None, mobile_bidx: str | None) -> bool:
    """Whether a person, by their blind indexes, is on the active blacklist."""
    matches = [
        column == value
        for column, value in (
            (orm.blacklist.c.id_number_bidx, id_number_bidx),
            (orm.blacklist.c.mobile_bidx, mobile_bidx),
        )
        if value
    ]
    if not matches:
        return False
    found = session.execute(
        sa.select(orm.blacklist.c.id).where(sa.or_(*matches), orm.blacklist.c.removed_at.is_(None)).limit(1)
    ).first()
    return found is not None


def blacklist_answer(entry: Any) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "masked": entry["masked"],
        "reason": entry["reason"],
        "added_by": entry["added_by"],
        "added_at": clock.as_utc(entry["added_at"]),
    }
