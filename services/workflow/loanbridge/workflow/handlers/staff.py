"""Staff and teams as identity's events describe them (the newer sequence per account or team wins), and each
salesperson's cap of open customers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common.errors import NotFound
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.uow import UnitOfWork
from loanbridge.workflow import orm


def on_user_changed(uow: UnitOfWork, event: Envelope) -> None:
    """``identity.user.*``: a staff member's name, roles, team and whether they may receive work."""
    data, staff = event.data, orm.staff
    values = {
        "display_name": data["display_name"],
        "roles": ",".join(data.get("roles") or []),
        "team_id": data.get("team_id"),
        "active": bool(data["active"]),
        "sequence": event.sequence,
    }
    updated = uow.session.execute(
        staff.update().where(staff.c.user_id == data["user_id"], staff.c.sequence < event.sequence).values(**values)
    )
    if updated.rowcount == 0 and staff_member(uow, data["user_id"]) is None:  # type: ignore[attr-defined]
        uow.session.execute(staff.insert(), {"user_id": data["user_id"], "cap": None, **values})


def on_team_changed(uow: UnitOfWork, event: Envelope) -> None:
    """``identity.team.*``: a team's name, manager and region."""
    data, teams = event.data, orm.teams
    values = {
        "name": data["name"],
        "manager_id": data.get("manager_id"),
        "region": data.get("region"),
        "sequence": event.sequence,
    }
    updated = uow.session.execute(
        teams.update().where(teams.c.team_id == data["team_id"], teams.c.sequence < event.sequence).values(**values)
    )
    if updated.rowcount == 0 and team(uow, data["team_id"]) is None:  # type: ignore[attr-defined]
        uow.session.execute(teams.insert(), {"team_id": data["team_id"], **values})


def staff_member(uow: UnitOfWork, user_id: str | None) -> Any:
    if user_id is None:
        return None
    return uow.session.execute(sa.select(orm.staff).where(orm.staff.c.user_id == user_id)).first()


def lock_staff_member(uow: UnitOfWork, user_id: str) -> Any:
    """The staff member's row, locked until commit: two claims by one person count their customers in turn."""
    return uow.session.execute(sa.select(orm.staff).where(orm.staff.c.user_id == user_id).with_for_update()).first()


def team(uow: UnitOfWork, team_id: str | None) -> Any:
    if team_id is None:
        return None
    return uow.session.execute(sa.select(orm.teams).where(orm.teams.c.team_id == team_id)).first()


def manager_of(uow: UnitOfWork, user_id: str | None) -> str | None:
    """The manager of a staff member's team, as identity last told."""
    if user_id is None:
        return None
    staff, teams = orm.staff, orm.teams
    return uow.session.execute(
        sa.select(teams.c.manager_id)
        .join_from(staff, teams, staff.c.team_id == teams.c.team_id)
        .where(staff.c.user_id == user_id)
    ).scalar()


def open_customers(uow: UnitOfWork, user_id: str) -> int:
    """How many customers a staff member owns now."""
    return int(
        uow.session.execute(
            sa.select(sa.func.count()).select_from(orm.owners).where(orm.owners.c.owner_id == user_id)
        ).scalar_one()
    )


def cap_of(member: Any, default_cap: int) -> int:
    return int(member.cap) if member is not None and member.cap is not None else default_cap


def set_cap(uow: UnitOfWork, *, user_id: str, cap: int | None) -> dict[str, Any]:
    """Set (or, with None, reset to the default) how many open customers a staff member may own."""
    if staff_member(uow, user_id) is None:
        raise NotFound("员工不存在")
    uow.session.execute(orm.staff.update().where(orm.staff.c.user_id == user_id).values(cap=cap))
    return {"user_id": user_id, "cap": cap}
