"""What intake keeps of workflow's and risk's events, for the duplicate outcome and the customer 360: each
customer's owner and grade, each lead's stage, assignee and latest risk result. The newer event wins (by its
business time), so redelivered or reordered events change nothing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm


def _when(event: Envelope) -> datetime:
    return naive_utc(event.occurred_at)


def _newer(column: sa.Column, when: datetime) -> Any:
    return sa.or_(column.is_(None), column < when)


def _require_customer(uow: UnitOfWork, customer_id: str) -> None:
    if orm.customer_by_id(uow.session, customer_id) is None:
        raise NotYet(f"customer {customer_id} not known yet")


def _require_lead(uow: UnitOfWork, lead_id: str) -> None:
    """After an update that matched no row: the lead is not here yet (retried later), or the event is older than
    what the row holds (nothing to do)."""
    exists = uow.session.execute(sa.select(orm.leads.c.id).where(orm.leads.c.id == lead_id)).first()
    if exists is None:
        raise NotYet("lead not known yet")


def on_case_assigned(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.case.assigned``: the customer's owner and the lead's assignee."""
    data, when = event.data, _when(event)
    _require_customer(uow, data["customer_id"])
    team_id = _team_of(uow, data["assignee_id"], data.get("team_id"))
    _set_owner(uow, data["customer_id"], when, owner_id=data["assignee_id"], team_id=team_id)
    uow.session.execute(
        orm.leads.update().where(orm.leads.c.id == data["case_id"]).values(assignee_id=data["assignee_id"])
    )


def on_case_recycled(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.case.recycled``: the customer went back to the public pool (公海)."""
    data = event.data
    _require_customer(uow, data["customer_id"])
    _set_owner(uow, data["customer_id"], _when(event), owner_id=None, team_id=None)
    uow.session.execute(orm.leads.update().where(orm.leads.c.id == data["case_id"]).values(assignee_id=None))


def on_case_claimed(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.case.claimed``: someone took the customer from the public pool."""
    data = event.data
    _require_customer(uow, data["customer_id"])
    team_id = _team_of(uow, data["to_owner"], data.get("team_id"))
    _set_owner(uow, data["customer_id"], _when(event), owner_id=data["to_owner"], team_id=team_id)
    uow.session.execute(
        orm.leads.update().where(orm.leads.c.id == data["case_id"]).values(assignee_id=data["to_owner"])
    )


def _team_of(uow: UnitOfWork, user_id: str, given: str | None) -> str | None:
    """The owner's team: as the event names it, else as identity's events told intake (workflow.case.claimed
    names no team, and a manager must keep seeing the customers their team members own)."""
    if given:
        return given
    member = orm.staff_member(uow.session, user_id)
    return member.team_id if member is not None else None


def _set_owner(uow: UnitOfWork, customer_id: str, when: datetime, *, owner_id: str | None, team_id: str | None) -> None:
    customers = orm.customers
    uow.session.execute(
        customers.update()
        .where(customers.c.id == customer_id, _newer(customers.c.owner_changed_at, when))
        .values(owner_id=owner_id, owner_team_id=team_id, owner_changed_at=when)
    )


def on_stage_changed(uow: UnitOfWork, event: Envelope) -> None:
    """``workflow.stage.changed``: the lead's current stage."""
    leads, when = orm.leads, _when(event)
    matched = uow.session.execute(
        leads.update()
        .where(leads.c.id == event.data["case_id"], _newer(leads.c.stage_changed_at, when))
        .values(stage=event.data["to_stage"], stage_changed_at=when)
    )
    if matched.rowcount == 0:  # type: ignore[attr-defined]
        _require_lead(uow, event.data["case_id"])


EVALUATION_FIELDS = ("evaluation_id", "ruleset_version", "score", "grade", "decision", "route_to", "flags",
                     "missing_documents", "missing_fields")  # fmt: skip


def on_evaluation_completed(uow: UnitOfWork, event: Envelope) -> None:
    """``risk.evaluation.completed``: the lead's latest risk result, as staff read it in the 360."""
    leads, when = orm.leads, _when(event)
    summary = {name: event.data.get(name) for name in EVALUATION_FIELDS}
    summary["hits"] = [{"rule": hit.get("rule") or hit.get("rule_id"), "reason": hit.get("reason")}
                       for hit in event.data.get("hits", [])]  # fmt: skip
    matched = uow.session.execute(
        leads.update()
        .where(leads.c.id == event.data["lead_id"], _newer(leads.c.evaluated_at, when))
        .values(evaluation=json.dumps({**summary, "evaluated_at": event.time}, ensure_ascii=False), evaluated_at=when)
    )
    if matched.rowcount == 0:  # type: ignore[attr-defined]
        _require_lead(uow, event.data["lead_id"])


def on_customer_graded(uow: UnitOfWork, event: Envelope) -> None:
    """``risk.customer.graded``: the customer's grade for follow-up cadence."""
    customers, when = orm.customers, _when(event)
    _require_customer(uow, event.data["customer_id"])
    uow.session.execute(
        customers.update()
        .where(customers.c.id == event.data["customer_id"], _newer(customers.c.grade_changed_at, when))
        .values(grade=event.data["grade"], grade_changed_at=when)
    )


def on_staff_changed(uow: UnitOfWork, event: Envelope) -> None:
    """``identity.user.*``: staff names and teams, so an import's 业务员 column can name its salesperson."""
    data, when, staff = event.data, _when(event), orm.staff
    values = {"display_name": data["display_name"], "team_id": data.get("team_id"), "active": data["active"],
              "changed_at": when}  # fmt: skip
    updated = uow.session.execute(
        staff.update().where(staff.c.user_id == data["user_id"], staff.c.changed_at < when).values(**values)
    )
    if updated.rowcount == 0 and orm.staff_member(uow.session, data["user_id"]) is None:  # type: ignore[attr-defined]
        uow.session.execute(staff.insert(), {"user_id": data["user_id"], **values})
