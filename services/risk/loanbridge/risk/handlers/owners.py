"""What risk keeps of workflow's and identity's events to scope its reads: each customer's owner and team
(``workflow.case.assigned`` / ``.claimed``; ``.recycled`` clears the owner: the public pool) and each staff member's
team. The newer event wins, by its business time and, between events of one aggregate, by its sequence, so a
redelivered, reordered or replayed (``loanbridge resync``) event changes nothing it should not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm
from loanbridge.risk.domain.scope import NOBODY, Owner


def on_case_assigned(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.case.assigned``: the customer's owner (and their team, as workflow knew it)."""
    data = event.data
    _set_owner(uow, event, data["customer_id"], owner_id=data["assignee_id"], team_id=data.get("team_id"))


def on_case_claimed(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.case.claimed``: someone took the customer from the public pool."""
    data = event.data
    _set_owner(uow, event, data["customer_id"], owner_id=data["to_owner"], team_id=data.get("team_id"))


def on_case_recycled(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.case.recycled``: the customer went back to the public pool (公海): nobody owns them."""
    _set_owner(uow, event, event.data["customer_id"], owner_id=None, team_id=None)


def on_staff_changed(uow: UnitOfWork, event: Envelope) -> None:
    """``identity.user.*``: a staff member's team, so a manager sees what the members of their teams own."""
    data, staff = event.data, orm.staff
    values = {"team_id": data.get("team_id"), "active": bool(data["active"]), "changed_at": _when(event),
              "changed_sequence": event.sequence}  # fmt: skip
    newer = sa.or_(
        staff.c.changed_at < values["changed_at"],
        sa.and_(staff.c.changed_at == values["changed_at"], staff.c.changed_sequence < event.sequence),
    )
    updated = uow.session.execute(staff.update().where(staff.c.user_id == data["user_id"], newer).values(**values))
    if updated.rowcount == 0 and orm.staff_member(uow.session, data["user_id"]) is None:  # type: ignore[attr-defined]
        _insert(uow, staff, {"user_id": data["user_id"], **values})


def owner_of(uow: UnitOfWork, customer_id: str) -> Owner:
    """The customer's owner as risk knows it (nobody: the public pool, or not assigned yet)."""
    row = orm.customer_owner(uow.session, customer_id)
    if row is None or row.owner_id is None:
        return NOBODY
    member = orm.staff_member(uow.session, row.owner_id)
    return Owner(owner_id=row.owner_id, team_id=row.team_id, member_of_team_id=member.team_id if member else None)


def _when(event: Envelope) -> datetime:
    return naive_utc(event.occurred_at)


def _set_owner(
    uow: UnitOfWork, event: Envelope, customer_id: str, *, owner_id: str | None, team_id: str | None
) -> None:
    owners, when = orm.customer_owners, _when(event)
    values = {"owner_id": owner_id, "team_id": team_id if owner_id else None, "changed_at": when,
              "changed_case_id": event.subject, "changed_sequence": event.sequence}  # fmt: skip
    # Events of different cases of one customer carry unrelated sequences: only time orders them; one case's
    # events at the same instant (a frozen clock, one transaction) are ordered by the case's sequence.
    newer = sa.or_(
        owners.c.changed_at < when,
        sa.and_(
            owners.c.changed_at == when,
            owners.c.changed_case_id == event.subject,
            owners.c.changed_sequence < event.sequence,
        ),
    )
    updated = uow.session.execute(owners.update().where(owners.c.customer_id == customer_id, newer).values(**values))
    if updated.rowcount == 0 and orm.customer_owner(uow.session, customer_id) is None:  # type: ignore[attr-defined]
        _insert(uow, owners, {"customer_id": customer_id, **values})


def _insert(uow: UnitOfWork, table: sa.Table, row: dict[str, Any]) -> None:
    """Insert a projection row. Two replicas inserting the same row at once: the second delivery fails on the key,
    is retried, and then takes the update path."""
    uow.session.execute(table.insert(), row)
