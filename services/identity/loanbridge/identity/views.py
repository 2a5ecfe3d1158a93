"""Read-side queries of identity's GET endpoints."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common.auth import Principal
from loanbridge.common.uow import UnitOfWork
from loanbridge.identity import orm
from loanbridge.identity.handlers import public_user


def list_users(uow: UnitOfWork, *, principal: Principal | None, user_id: str | None = None) -> list[dict[str, Any]]:
    """Staff accounts in the caller's scope: all for admins, their teams' members for managers."""
    query = sa.select(orm.users).order_by(orm.users.c.username)
    if user_id is not None:
        query = query.where(orm.users.c.id == user_id)
    if principal is not None and not principal.has_any("admin"):
        query = query.where(orm.users.c.team_id.in_(principal.managed_team_ids))
    return [public_user(row) for row in uow.session.execute(query)]


def list_teams(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in uow.session.execute(sa.select(orm.teams).order_by(orm.teams.c.name))]


def list_clients(uow: UnitOfWork, *, kind: str) -> list[dict[str, Any]]:
    rows = uow.session.execute(
        sa.select(orm.clients).where(orm.clients.c.kind == kind).order_by(orm.clients.c.created_at)
    )
    return [
        {"client_id": row.client_id, "name": row.name, "kind": row.kind, "partner_id": row.partner_id} for row in rows
    ]
