"""Cases (one per lead) and the one owner of each customer.

A case opens on ``intake.lead.created``. A staff member's lead goes to them unless the customer already has an
owner; a customer with an owner keeps that owner (撞单: reported with both parties named, never reassigned);
a partner's lead goes by the first matching assignment rule. Every move of a case (assignment, stage, recycle,
claim) is a history row and an event.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.auth import Principal
from loanbridge.common.errors import Conflict, InvalidInput, NotFound
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import config as settings
from loanbridge.workflow import orm
from loanbridge.workflow.domain import processes as process_rules
from loanbridge.workflow.domain import sla as sla_rules
from loanbridge.workflow.domain.assignment import Candidate, least_loaded, round_robin, rule_matches
from loanbridge.workflow.handlers import processes, staff, tasks
from loanbridge.workflow.handlers.processes import definition_of
from loanbridge.workflow.views import case_answer, case_scope

SYSTEM = process_rules.SYSTEM


# --- reading ----------------------------------------------------------------------------------------------------
def get_case(uow: UnitOfWork, case_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(orm.cases).where(orm.cases.c.id == case_id)
    return uow.session.execute(query.with_for_update() if for_update else query).first()


def case_in_scope(uow: UnitOfWork, principal: Principal, case_id: str, *, for_update: bool = False) -> Any:
    """The case if the caller may see it; a case outside their scope is 404, like one that does not exist."""
    query = sa.select(orm.cases).where(orm.cases.c.id == case_id, case_scope(principal))
    row = uow.session.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound("案件不存在")
    return row


def require_case(uow: UnitOfWork, case_id: str) -> Any:
    """The case an event is about; not known yet means the lead's event has not arrived (retried later)."""
    row = get_case(uow, case_id, for_update=True)
    if row is None:
        raise NotYet(f"case {case_id} not known yet")
    return row


def owner_row(uow: UnitOfWork, customer_id: str) -> Any:
    return uow.session.execute(
        sa.select(orm.owners).where(orm.owners.c.customer_id == customer_id).with_for_update()
    ).first()


def grade_of(uow: UnitOfWork, customer_id: str) -> str | None:
    """The customer's grade, read without a lock (a transition's conditions read it, nothing writes it here)."""
    return uow.session.execute(sa.select(orm.owners.c.grade).where(orm.owners.c.customer_id == customer_id)).scalar()


def open_cases_of(uow: UnitOfWork, customer_id: str) -> list[Any]:
    cases = orm.cases
    return list(
        uow.session.execute(
            sa.select(cases).where(cases.c.customer_id == customer_id, cases.c.closed_at.is_(None)).order_by(cases.c.id)
        ).all()
    )


def facts(case: Any, grade: str | None = None) -> dict[str, Any]:
    """What a definition's expressions may read about a case."""
    return {
        "amount": float(case.amount),
        "term_months": case.term_months,
        "product": case.product,
        "city": case.city,
        "channel": case.channel,
        "stage": case.stage,
        "documents": json.loads(case.documents),
        "lender_decision": case.lender_decision,
        "partner": case.partner_id is not None,
        "grade": grade,
    }


def record(
    uow: UnitOfWork,
    *,
    case_id: str,
    kind: str,
    actor: str,
    from_value: str | None = None,
    to_value: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append to a case's history."""
    uow.session.execute(
        orm.case_history.insert(),
        {
            "case_id": case_id,
            "at": naive_utc(clock.now()),
            "kind": kind,
            "from_value": from_value,
            "to_value": to_value,
            "actor": actor,
            "reason": (reason or "")[:200] or None,
            "details": json.dumps(details, ensure_ascii=False) if details else None,
        },
    )


# --- opening a case ---------------------------------------------------------------------------------------------
def on_lead_created(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.lead.created``: open the lead's case and give the customer (or keep them with) their owner."""
    data = event.data
    if get_case(uow, data["lead_id"]) is not None:
        return
    version, definition = processes.for_new_case(uow, data["product"])
    now = naive_utc(clock.now())
    uow.session.execute(
        orm.cases.insert(),
        {
            "id": data["lead_id"],
            "customer_id": data["customer_id"],
            "product": data["product"],
            "amount": Decimal(str(data["amount"])),
            "term_months": data["term_months"],
            "channel": data["channel"],
            "city": data["city"],
            "partner_id": data.get("partner_id"),
            "submitted_by": data["submitted_by"],
            "process_version": version,
            "stage": definition["initial_stage"],
            "stage_entered_at": now,
            "assignee_id": None,
            "team_id": None,
            "documents": "[]",
            "lender_decision": None,
            "evaluated_at": None,
            "submitted_at": None,
            "created_at": naive_utc(event.occurred_at),
            "closed_at": None,
        },
    )
    record(uow, case_id=data["lead_id"], kind="opened", actor=SYSTEM, to_value=definition["initial_stage"],
           details={"process_version": version, "channel": data["channel"]})  # fmt: skip
    case = get_case(uow, data["lead_id"])
    owner = owner_row(uow, data["customer_id"])
    staff_entered = data.get("partner_id") is None
    if owner is not None and owner.owner_id is not None:
        if staff_entered and data["submitted_by"] != owner.owner_id:
            record(
                uow, case_id=case.id, kind="duplicate", actor=SYSTEM, from_value=data["submitted_by"],
                to_value=owner.owner_id, reason=f"撞单:客户已由 {owner.owner_id} 负责,提交人 {data['submitted_by']}",
            )  # fmt: skip
            assign(uow, case=case, assignee_id=owner.owner_id, rule_id="existing_owner", reason="duplicate_owner",
                   actor=SYSTEM, conflict_with=data["submitted_by"])  # fmt: skip
            return
        assign(uow, case=case, assignee_id=owner.owner_id, rule_id="existing_owner", reason="existing_owner",
               actor=SYSTEM)  # fmt: skip
        return
    if staff_entered and not _cooling_down(uow, owner, data["submitted_by"]):
        assign(uow, case=case, assignee_id=data["submitted_by"], rule_id="staff_entered", reason="staff_entered",
               actor=SYSTEM)  # fmt: skip
        return
    chosen = choose_by_rules(uow, data)
    if chosen is None:
        _ensure_owner_row(uow, data["customer_id"])
        record(uow, case_id=case.id, kind="unassigned", actor=SYSTEM, reason="没有匹配的分配规则或可分配人员")
        return
    assign(uow, case=case, assignee_id=chosen[0], rule_id=chosen[1], reason="rule", actor=SYSTEM)


def _cooling_down(uow: UnitOfWork, owner: Any, user_id: str) -> bool:
    """Whether ``user_id`` let this customer lapse (or released it) too lately to take it back by a new lead."""
    if owner is None or owner.released_by != user_id or owner.released_at is None:
        return False
    cooldown = timedelta(days=settings.of(uow).reclaim_cooldown_days)
    return clock.as_utc(owner.released_at) + cooldown > clock.now()


def choose_by_rules(uow: UnitOfWork, lead: dict[str, Any]) -> tuple[str, str] | None:
    """The assignee and rule id of the first active rule that matches and has someone available."""
    config = settings.of(uow)
    rules = uow.session.execute(
        sa.select(orm.assignment_rules)
        .where(orm.assignment_rules.c.active.is_(True))
        .order_by(orm.assignment_rules.c.position, orm.assignment_rules.c.id)
    ).all()
    for rule in rules:
        if not rule_matches({"condition": json.loads(rule.condition)}, lead):
            continue
        if rule.strategy == "user":
            member = staff.staff_member(uow, rule.user_id)
            candidate = _candidate(uow, member, config.default_cap) if member is not None else None
            if candidate is not None and candidate.available:
                return candidate.user_id, rule.id
            continue
        team = uow.session.execute(
            sa.select(orm.teams).where(orm.teams.c.team_id == rule.team_id).with_for_update()
        ).first()
        members = [
            _candidate(uow, member, config.default_cap)
            for member in uow.session.execute(sa.select(orm.staff).where(orm.staff.c.team_id == rule.team_id))
            if "sales" in member.roles.split(",")
        ]
        if rule.strategy == "round_robin":
            picked = round_robin(members, team.last_assigned_user_id if team is not None else None)
        else:
            picked = least_loaded(members)
        if picked is None:
            continue
        if team is not None:
            uow.session.execute(
                orm.teams.update()
                .where(orm.teams.c.team_id == rule.team_id)
                .values(last_assigned_user_id=picked.user_id)
            )
        return picked.user_id, rule.id
    return None


def _candidate(uow: UnitOfWork, member: Any, default_cap: int) -> Candidate:
    return Candidate(
        user_id=member.user_id,
        active=bool(member.active),
        open_customers=staff.open_customers(uow, member.user_id),
        cap=staff.cap_of(member, default_cap),
    )


def _ensure_owner_row(uow: UnitOfWork, customer_id: str) -> None:
    if owner_row(uow, customer_id) is None:
        uow.session.execute(orm.owners.insert(), {"customer_id": customer_id, "owner_id": None})


# --- ownership --------------------------------------------------------------------------------------------------
def recycle_due(uow: UnitOfWork, grade: str | None, after: datetime) -> datetime:
    """When a customer not followed up since ``after`` goes back to the public pool."""
    config = settings.of(uow)
    days = config.recycle_days.get(grade or config.default_grade, config.recycle_days[config.default_grade])
    return clock.as_utc(after) + timedelta(days=days)


def set_owner(uow: UnitOfWork, *, customer_id: str, owner_id: str) -> str | None:
    """Make a staff member the customer's owner; answers their team (as identity last told)."""
    member = staff.staff_member(uow, owner_id)
    team_id = member.team_id if member is not None else None
    now = clock.now()
    existing = owner_row(uow, customer_id)
    grade = existing.grade if existing is not None else None
    values = {
        "owner_id": owner_id,
        "team_id": team_id,
        "owned_since": naive_utc(now),
        "recycle_due_at": naive_utc(recycle_due(uow, grade, now)),
    }
    if existing is None:
        uow.session.execute(orm.owners.insert(), {"customer_id": customer_id, **values})
    else:
        uow.session.execute(orm.owners.update().where(orm.owners.c.customer_id == customer_id).values(**values))
    return team_id


def assign(
    uow: UnitOfWork,
    *,
    case: Any,
    assignee_id: str,
    rule_id: str,
    reason: str,
    actor: str,
    conflict_with: str | None = None,
) -> None:
    """Give a case (and its customer) to a staff member: history, ``workflow.case.assigned``, and the case
    enters ``assigned`` when it was new."""
    team_id = set_owner(uow, customer_id=case.customer_id, owner_id=assignee_id)
    uow.session.execute(
        orm.cases.update().where(orm.cases.c.id == case.id).values(assignee_id=assignee_id, team_id=team_id)
    )
    tasks.reassign_open(uow, case_id=case.id, from_user=case.assignee_id, to_user=assignee_id)
    record(uow, case_id=case.id, kind="assigned", actor=actor, from_value=case.assignee_id, to_value=assignee_id,
           reason=reason, details={"rule_id": rule_id, "conflict_with": conflict_with})  # fmt: skip
    uow.emit(
        "workflow.case.assigned",
        subject=case.id,
        data={
            "case_id": case.id,
            "customer_id": case.customer_id,
            "assignee_id": assignee_id,
            "previous_assignee_id": case.assignee_id,
            "team_id": team_id,
            "rule_id": rule_id,
            "reason": reason,
            "conflict_with": conflict_with,
        },
    )
    fresh = get_case(uow, case.id)
    definition = definition_of(uow, fresh.product, fresh.process_version)
    if fresh.stage == definition["initial_stage"] and process_rules.transition_between(
        definition, fresh.stage, "assigned"
    ):
        enter_stage(uow, case=fresh, to="assigned", actor=actor, reason="已分配负责人", definition=definition)


def reassign(
    uow: UnitOfWork, *, principal: Principal, case_id: str, assignee_id: str, reason: str | None
) -> dict[str, Any]:
    """A manager gives a customer (every open case of theirs) to another active staff member."""
    case = case_in_scope(uow, principal, case_id, for_update=True)
    member = staff.staff_member(uow, assignee_id)
    if member is None or not member.active:
        raise InvalidInput.for_field("assignee_id", "员工不存在或已停用")
    if (
        principal.has_any("manager")
        and not principal.has_any("admin")
        and member.team_id not in principal.managed_team_ids
    ):
        raise InvalidInput.for_field("assignee_id", "只能分配给本团队成员")
    if case.closed_at is not None:
        raise Conflict("案件已结束,不能重新分配", code="case_closed")
    for other in open_cases_of(uow, case.customer_id):
        if other.assignee_id != assignee_id:
            assign(uow, case=other, assignee_id=assignee_id, rule_id="manual", reason=reason or "reassigned",
                   actor=principal.subject)  # fmt: skip
    return case_answer(get_case(uow, case_id))


# --- stages -----------------------------------------------------------------------------------------------------
def enter_stage(
    uow: UnitOfWork, *, case: Any, to: str, actor: str, reason: str | None, definition: dict[str, Any]
) -> SimpleNamespace:
    """Move a case to a stage: history, ``workflow.stage.changed``, the old stage's tasks done and the new
    stage's tasks created with its SLA. Answers the case as it now is (``case`` was read for update, so only
    these columns changed)."""
    now = clock.now()
    closed = process_rules.is_terminal(definition, to)
    moved = {"stage": to, "stage_entered_at": naive_utc(now), "closed_at": naive_utc(now) if closed else None}
    uow.session.execute(orm.cases.update().where(orm.cases.c.id == case.id).values(**moved))
    record(uow, case_id=case.id, kind="stage", actor=actor, from_value=case.stage, to_value=to, reason=reason)
    uow.emit(
        "workflow.stage.changed",
        subject=case.id,
        data={
            "case_id": case.id,
            "customer_id": case.customer_id,
            "from_stage": case.stage,
            "to_stage": to,
            "actor": actor,
            "reason": reason,
        },
    )
    left = process_rules.stage(definition, case.stage) or {}
    left_kinds = tuple(task["kind"] for task in left.get("tasks", []))
    if left_kinds:
        tasks.complete_open(uow, case_id=case.id, kinds=left_kinds)
    if closed:
        tasks.cancel_open(uow, case_id=case.id)
    _create_stage_tasks(uow, case=case, stage=process_rules.stage(definition, to) or {})
    return SimpleNamespace(**{**case._mapping, **moved})


def _create_stage_tasks(uow: UnitOfWork, *, case: Any, stage: dict[str, Any]) -> None:
    sla = stage.get("sla")
    now = clock.now()
    due = tasks.deadline(uow, now, sla["duration"], sla["unit"]) if sla else None
    remind = None
    if sla and due and sla.get("remind_before"):
        remind = max(now, sla_rules.before(due, sla["remind_before"], sla["unit"]))
    for spec in stage.get("tasks", []):
        if spec.get("once") and _had_task(uow, case.id, spec["kind"]):
            continue
        assignee = spec.get("assignee", "owner")
        role = assignee.split(":", 1)[1] if assignee.startswith("role:") else None
        if role is None and case.assignee_id is None:
            continue
        tasks.create_task(
            uow, case=case, kind=spec["kind"], title=spec["title"], assignee_id=None if role else case.assignee_id,
            assignee_role=role, due_at=due, remind_at=remind, escalate_to=(sla or {}).get("escalate_to", "manager"),
            details={"stage": stage["key"]},
        )  # fmt: skip


def _had_task(uow: UnitOfWork, case_id: str, kind: str) -> bool:
    return (
        uow.session.execute(
            sa.select(orm.tasks.c.id).where(orm.tasks.c.case_id == case_id, orm.tasks.c.kind == kind).limit(1)
        ).first()
        is not None
    )


def transition(uow: UnitOfWork, *, principal: Principal, case_id: str, to: str, reason: str | None) -> dict[str, Any]:
    """Move a case as a user: checked against its definition (409 naming the rule, 403 for the role)."""
    case = case_in_scope(uow, principal, case_id, for_update=True)
    definition = definition_of(uow, case.product, case.process_version)
    reads_grade = process_rules.expressions_mention(definition, case.stage, to, "grade")
    process_rules.check_transition(
        definition,
        current=case.stage,
        to=to,
        roles=principal.roles - {SYSTEM},
        facts=facts(case, grade_of(uow, case.customer_id) if reads_grade else None),
    )
    moved = enter_stage(uow, case=case, to=to, actor=principal.subject, reason=reason, definition=definition)
    return case_answer(moved)


def move_by_system(uow: UnitOfWork, *, case: Any, to: str, reason: str) -> bool:
    """Move a case on an event, when its definition leads there from where it is; False when it does not
    (the case moved on already: a late or repeated event changes nothing)."""
    definition = definition_of(uow, case.product, case.process_version)
    if process_rules.transition_between(definition, case.stage, to) is None:
        record(uow, case_id=case.id, kind="ignored", actor=SYSTEM, from_value=case.stage, to_value=to, reason=reason)
        return False
    enter_stage(uow, case=case, to=to, actor=SYSTEM, reason=reason, definition=definition)
    return True


# --- intake's events about the lead -----------------------------------------------------------------------------
def on_application_submitted(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.application.submitted``: the application goes to 资质初审; a supplement asked for is done."""
    case = require_case(uow, event.data["lead_id"])
    documents = sorted(set(json.loads(case.documents)) | set(event.data.get("documents") or []))
    when = naive_utc(event.occurred_at)
    uow.session.execute(
        orm.cases.update()
        .where(orm.cases.c.id == case.id)
        .values(documents=json.dumps(documents, ensure_ascii=False), submitted_at=when)
    )
    tasks.complete_open(uow, case_id=case.id, kinds=("supplement",))
    case = get_case(uow, case.id)
    if case.stage == "pre_review":
        return
    move_by_system(uow, case=case, to="pre_review", reason="申请已提交")


def on_document_uploaded(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.document.uploaded``: the case knows which document types it has (stages may require them)."""
    case = require_case(uow, event.data["lead_id"])
    documents = sorted(set(json.loads(case.documents)) | {event.data["doc_type"]})
    uow.session.execute(
        orm.cases.update().where(orm.cases.c.id == case.id).values(documents=json.dumps(documents, ensure_ascii=False))
    )
    record(uow, case_id=case.id, kind="document", actor=SYSTEM, to_value=event.data["doc_type"])


def on_followup_logged(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.followup.logged``: the customer was contacted; first contact done, next follow-up scheduled,
    the public-pool clock restarted. An older contact than the last one known changes nothing."""
    case = require_case(uow, event.data["lead_id"])
    when = event.occurred_at
    owner = owner_row(uow, case.customer_id)
    if owner is not None and owner.last_contact_at is not None and clock.as_utc(owner.last_contact_at) >= when:
        return
    grade = owner.grade if owner is not None else None
    if owner is not None:
        values: dict[str, Any] = {"last_contact_at": naive_utc(when)}
        if owner.owner_id is not None:
            values["recycle_due_at"] = naive_utc(recycle_due(uow, grade, when))
        uow.session.execute(orm.owners.update().where(orm.owners.c.customer_id == case.customer_id).values(**values))
    tasks.complete_open(uow, case_id=case.id, kinds=("first_contact",))
    next_at = event.data.get("next_followup_at")
    tasks.schedule_followup(
        uow, case=case, grade=grade, after=when, due_at=clock.parse_iso(next_at) if next_at else None
    )
    record(uow, case_id=case.id, kind="followup", actor=event.data["user_id"], reason=event.data.get("outcome"))


def on_customer_graded(uow: UnitOfWork, event: Envelope) -> None:
    """``risk.customer.graded``: the customer's grade sets the follow-up cadence; open follow-ups move."""
    data, when = event.data, event.occurred_at
    owner = owner_row(uow, data["customer_id"])
    if owner is None:
        raise NotYet(f"customer {data['customer_id']} has no case yet")
    if owner.grade_at is not None and clock.as_utc(owner.grade_at) > when:
        return
    values: dict[str, Any] = {"grade": data["grade"], "grade_at": naive_utc(when)}
    base = clock.as_utc(owner.last_contact_at or owner.owned_since or naive_utc(when))
    if owner.owner_id is not None:
        values["recycle_due_at"] = naive_utc(recycle_due(uow, data["grade"], base))
    uow.session.execute(orm.owners.update().where(orm.owners.c.customer_id == data["customer_id"]).values(**values))
    for case in open_cases_of(uow, data["customer_id"]):
        has_followup = uow.session.execute(
            sa.select(orm.tasks.c.id).where(
                orm.tasks.c.case_id == case.id, orm.tasks.c.kind == tasks.FOLLOWUP, orm.tasks.c.status == tasks.OPEN
            )
        ).first()
        if has_followup is not None:
            tasks.schedule_followup(uow, case=case, grade=data["grade"], after=base, due_at=None)


# --- resync -----------------------------------------------------------------------------------------------------
def emit_snapshots(uow: UnitOfWork) -> int:
    """``loanbridge resync workflow``: re-announce the owner of every open case (``workflow.case.assigned`` with
    reason ``resync``), so a late consumer learns who owns each customer. Answers how many it emitted."""
    cases = orm.cases
    rows = uow.session.execute(
        sa.select(cases)
        .where(cases.c.closed_at.is_(None), cases.c.assignee_id.is_not(None))
        .order_by(cases.c.created_at, cases.c.id)
    ).all()
    for case in rows:
        uow.emit(
            "workflow.case.assigned",
            subject=case.id,
            data={
                "case_id": case.id,
                "customer_id": case.customer_id,
                "assignee_id": case.assignee_id,
                "previous_assignee_id": case.assignee_id,
                "team_id": case.team_id,
                "rule_id": "resync",
                "reason": "resync",
                "conflict_with": None,
            },
        )
    return len(rows)
