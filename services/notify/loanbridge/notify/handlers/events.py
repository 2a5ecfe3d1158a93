"""Consuming events: keep the staff, team and owner projections, cancel reminders that are no longer due, turn
each event into messages by the active policies, and queue webhook deliveries for the external subscribers."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm
from loanbridge.notify.domain import policies

# Event data that would only bloat a message's stored context.
CONTEXT_SKIP = ("schedule", "hits", "features")


def on_event(uow: UnitOfWork, event: Envelope) -> None:
    """Any subscribed event: projections and cancellations first, then policies and webhooks."""
    project = PROJECTIONS.get(event.type)
    if project is not None:
        project(uow, event)
    cancel = CANCELLATIONS.get(event.type)
    if cancel is not None:
        cancel(uow, event)
    queue_messages(uow, event)
    queue_webhooks(uow, event)


# --- projections ---------------------------------------------------------------------------------------------
def _project_user(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    current = orm.staff_member(uow.session, data["user_id"])
    if current is not None and current.sequence >= event.sequence:
        return
    values = {
        "display_name": data["display_name"],
        "roles": json.dumps(sorted(data.get("roles") or [])),
        "team_id": data.get("team_id"),
        "active": bool(data.get("active", True)),
        "sequence": event.sequence,
    }
    if current is None:
        uow.session.execute(orm.staff.insert().values(user_id=data["user_id"], **values))
    else:
        uow.session.execute(orm.staff.update().where(orm.staff.c.user_id == data["user_id"]).values(**values))


def _project_team(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    current = uow.session.execute(sa.select(orm.teams).where(orm.teams.c.team_id == data["team_id"])).first()
    if current is not None and current.sequence >= event.sequence:
        return
    values = {"name": data["name"], "manager_id": data.get("manager_id"), "sequence": event.sequence}
    if current is None:
        uow.session.execute(orm.teams.insert().values(team_id=data["team_id"], **values))
    else:
        uow.session.execute(orm.teams.update().where(orm.teams.c.team_id == data["team_id"]).values(**values))


def _project_owner(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    at = naive_utc(event.occurred_at)
    current = uow.session.execute(sa.select(orm.owners).where(orm.owners.c.customer_id == data["customer_id"])).first()
    values = {"assignee_id": data["assignee_id"], "team_id": data.get("team_id"), "changed_at": at}
    if current is None:
        uow.session.execute(orm.owners.insert().values(customer_id=data["customer_id"], **values))
    elif current.changed_at <= at:
        owners = orm.owners
        uow.session.execute(owners.update().where(owners.c.customer_id == data["customer_id"]).values(**values))


PROJECTIONS = {
    "identity.user.created": _project_user,
    "identity.user.updated": _project_user,
    "identity.user.deactivated": _project_user,
    "identity.team.created": _project_team,
    "identity.team.updated": _project_team,
    "workflow.case.assigned": _project_owner,
}


# --- cancellations -------------------------------------------------------------------------------------------
def cancel_pending(uow: UnitOfWork, *, cancel_key: str, prefix: bool = False) -> int:
    """Cancel messages not yet sent under a cancel key (or every key starting with it)."""
    messages = orm.messages
    match = (
        messages.c.cancel_key.startswith(cancel_key, autoescape=True) if prefix else messages.c.cancel_key == cancel_key
    )
    result = uow.session.execute(
        messages.update().where(match, messages.c.status == "pending").values(status="cancelled", lease_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _cancel_installment(uow: UnitOfWork, event: Envelope) -> None:
    cancel_pending(uow, cancel_key=policies.installment_key(event.data["loan_id"], int(event.data["installment"])))


def _cancel_loan_reminders(uow: UnitOfWork, event: Envelope) -> None:
    cancel_pending(uow, cancel_key=policies.loan_prefix(event.data["loan_id"]) + "installment:", prefix=True)


def _cancel_task_escalation(uow: UnitOfWork, event: Envelope) -> None:
    cancel_pending(uow, cancel_key=policies.task_key(event.data["task_id"]))


CANCELLATIONS = {
    "workflow.repayment.recorded": _cancel_installment,
    "workflow.loan.settled": _cancel_loan_reminders,
    "workflow.task.completed": _cancel_task_escalation,
}


# --- policies ------------------------------------------------------------------------------------------------
def queue_messages(uow: UnitOfWork, event: Envelope) -> int:
    """Insert one message per (occurrence, recipient, channel) of every matching policy; a repeat inserts none."""
    rows = []
    now = clock.now()
    active = uow.once("notify.active_policies", lambda: orm.active_policies(uow.session))
    for policy in active.get(event.type, []):
        if not policies.matches(orm.loads(policy.condition) or {}, event.data):
            continue
        code = policy.template
        template = uow.once(f"notify.template.{code}", lambda code=code: orm.template(uow.session, code))
        if template is None:
            continue
        recipients = resolve_recipients(uow, orm.loads(policy.recipients), event.data)
        timing = orm.loads(policy.timing) or {}
        zone = clock.business_timezone()
        for occurrence in policies.occurrences(timing, event.data, now=now, zone=zone):
            context = {k: v for k, v in event.data.items() if k not in CONTEXT_SKIP}
            context.update(occurrence.context, event_type=event.type, occurred_at=event.time)
            for kind, recipient_id in recipients:
                for channel in orm.loads(policy.channels):
                    if not _channel_fits(kind, channel):
                        continue
                    key = f"{event.id}|{occurrence.key}|{kind}:{recipient_id}|{channel}"
                    rows.append(
                        {
                            "id": str(uuid.uuid4()),
                            "dedupe_key": hashlib.sha256(key.encode()).hexdigest(),
                            "event_id": event.id,
                            "event_type": event.type,
                            "policy_id": policy.id,
                            "template": template.code,
                            "channel": channel,
                            "recipient_kind": kind,
                            "recipient_id": recipient_id,
                            "subject_id": event.subject,
                            "context": orm.dumps(context),
                            "marketing": bool(template.marketing),
                            "cancel_key": occurrence.cancel_key,
                            "status": "pending",
                            "due_at": naive_utc(occurrence.due_at),
                            "attempts": 0,
                            "created_at": naive_utc(now),
                        }
                    )
    if rows:
        uow.session.execute(orm.insert_ignore(orm.messages), rows)
    return len(rows)


def _channel_fits(kind: str, channel: str) -> bool:
    if kind == "customer":
        return channel in policies.CUSTOMER_CHANNELS
    if kind == "group":
        return channel in ("dingtalk", "wecom")
    return channel in policies.STAFF_CHANNELS


def resolve_recipients(uow: UnitOfWork, names: list[str], data: dict[str, Any]) -> list[tuple[str, str]]:
    """The (kind, id) each recipient name stands for in this event: staff, a customer, or a role's group."""
    found: list[tuple[str, str]] = []
    for name in names:
        for recipient in _resolve(uow, name, data):
            if recipient not in found:
                found.append(recipient)
    return found


def _resolve(uow: UnitOfWork, name: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    session = uow.session
    if name == "customer":
        return [("customer", data["customer_id"])] if data.get("customer_id") else []
    if name.startswith("role:"):
        return _role(uow, name[5:])
    if name == "route_to":
        return _role(uow, data["route_to"]) if data.get("route_to") else []
    if name == "assignee":
        if data.get("assignee_id"):
            return [("staff", data["assignee_id"])]
        return _role(uow, data["assignee_role"]) if data.get("assignee_role") else []
    if name == "conflict_with":
        return [("staff", data["conflict_with"])] if data.get("conflict_with") else []
    if name == "owner":
        owner = orm.owner_of(session, data["customer_id"]) if data.get("customer_id") else None
        return [("staff", owner)] if owner else []
    if name == "manager":
        staff_id = data.get("assignee_id") or (
            orm.owner_of(session, data["customer_id"]) if data.get("customer_id") else None
        )
        manager = orm.manager_of(session, staff_id) if staff_id else None
        return [("staff", manager)] if manager else []
    if name == "escalate_to":
        target = data.get("escalate_to") or {}
        if target.get("user_id"):
            return [("staff", target["user_id"])]
        return _role(uow, target["role"]) if target.get("role") else []
    return []


def _role(uow: UnitOfWork, role: str) -> list[tuple[str, str]]:
    members = orm.staff_with_role(uow.session, role)
    # Nobody known in the role yet (identity not projected): the role's group still hears it on the robots.
    return [("staff", member) for member in members] or [("group", role)]


# --- webhooks ------------------------------------------------------------------------------------------------
def queue_webhooks(uow: UnitOfWork, event: Envelope) -> int:
    """One delivery per active webhook subscribed to the event's type (a repeat inserts none)."""
    now = clock.now()
    rows = []
    hooks = uow.once(
        "notify.active_webhooks",
        lambda: list(uow.session.execute(sa.select(orm.webhooks).where(orm.webhooks.c.active.is_(True)))),
    )
    config = uow.config
    for hook in hooks:
        if event.type not in json.loads(hook.event_types):
            continue
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "webhook_id": hook.id,
                "event_id": event.id,
                "event_type": event.type,
                "payload": event.to_json(),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": naive_utc(now),
                "retry_until": naive_utc(now + timedelta(hours=config.webhook_retry_hours)),
                "created_at": naive_utc(now),
            }
        )
    if rows:
        uow.session.execute(orm.insert_ignore(orm.webhook_deliveries), rows)
    return len(rows)
