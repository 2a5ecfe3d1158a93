"""reporting's event handlers: archive every event, then update the read models from it.

Each projection is idempotent and order-tolerant on its own (not only through the inbox): attributes keep the
event with the newer ``sequence`` of its aggregate, milestones the earliest business time, and rows are keyed on
business ids. So the rebuild may replay the archive in any order and a duplicate changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.reporting import orm
from loanbridge.reporting.domain.measures import month_key

log = structlog.get_logger(__name__)

Projection = Callable[[Session, Envelope], None]


def archive(uow: UnitOfWork, event: Envelope) -> None:
    """Keep the event as received; read models can be rebuilt from the archive alone. A consumer's batch is
    archived in one statement at its commit."""
    uow.insert_at_commit(
        orm.event_archive,
        {
            "event_id": event.id,
            "event_type": event.type,
            "subject": event.subject,
            "sequence": event.sequence,
            "occurred_at": naive_utc(event.occurred_at),
            "envelope": event.to_json(),
            "received_at": naive_utc(clock.now()),
        },
    )


def on_event(uow: UnitOfWork, event: Envelope) -> None:
    """Any event of the catalog: archive it, then project it into the read models that read its type."""
    archive(uow, event)
    project(uow.session, event)


def project(session: Session, event: Envelope) -> None:
    """Apply one event to the read models (the live path and the rebuild both come here)."""
    projection = PROJECTIONS.get(event.type)
    if projection is not None:
        projection(session, event)


def _at(event: Envelope) -> datetime:
    return naive_utc(event.occurred_at)


LEAD_ATTRIBUTES = (
    "customer_id",
    "channel",
    "product",
    "city",
    "partner_id",
    "submitted_by",
    "amount",
    "business_day",
    "occurred_at",
    "last_sequence",
)


def on_lead_recorded(session: Session, event: Envelope) -> None:
    """``intake.lead.created`` / ``.updated``: the lead's attributes, the newer sequence winning.

    A lead counts on the business day it was created, whichever of its events arrives first.
    """
    data = event.data
    created_at = clock.parse_iso(data["created_at"])
    row = {
        "lead_id": data["lead_id"],
        "customer_id": data["customer_id"],
        "channel": data["channel"],
        "product": data["product"],
        "city": data["city"],
        "partner_id": data.get("partner_id"),
        "submitted_by": data["submitted_by"],
        "amount": _money(data["amount"]),
        "business_day": clock.business_date(created_at),
        "occurred_at": naive_utc(created_at),
        "last_sequence": event.sequence,
    }
    orm.merge(
        session,
        orm.lead_facts,
        row,
        key=("lead_id",),
        update=LEAD_ATTRIBUTES,
        when=orm.newer("last_sequence"),
    )
    orm.sync_lead_copies(session, data["lead_id"])


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def on_application_submitted(session: Session, event: Envelope) -> None:
    """``intake.application.submitted``: the lead reached 提交申请."""
    orm.set_earliest(session, event.data["lead_id"], "submitted_at", _at(event))


def on_evaluation_completed(session: Session, event: Envelope) -> None:
    """``risk.evaluation.completed``: one evaluation; an approval is a milestone of the lead."""
    data = event.data
    row = {
        "evaluation_id": data["evaluation_id"],
        "lead_id": data["lead_id"],
        "evaluated_product": data["product"],
        "decision": data["decision"],
        "evaluated_at": _at(event),
        "business_day": clock.business_date(event.occurred_at),
    }
    orm.merge(session, orm.risk_evaluations, row, key=("evaluation_id",), update=())
    orm.sync_lead_copies(session, data["lead_id"], tables=(orm.risk_evaluations,))
    if data["decision"] == "approve":
        orm.set_earliest(session, data["lead_id"], "risk_approved_at", _at(event))
    else:
        orm.ensure_lead(session, data["lead_id"])


def _owner_changed(session: Session, event: Envelope, owner: str | None) -> None:
    data = event.data
    row = {
        "lead_id": data["case_id"],
        "owner_id": owner,
        "team_id": data.get("team_id"),
        "owner_sequence": event.sequence,
    }
    orm.merge(
        session,
        orm.lead_facts,
        row,
        key=("lead_id",),
        update=("owner_id", "team_id", "owner_sequence"),
        when=orm.newer("owner_sequence"),
    )
    orm.sync_lead_copies(session, data["case_id"])


def on_case_assigned(session: Session, event: Envelope) -> None:
    """``workflow.case.assigned``: the lead's owner and the owner's team."""
    _owner_changed(session, event, event.data["assignee_id"])


def on_case_claimed(session: Session, event: Envelope) -> None:
    """``workflow.case.claimed``: taken from the public pool by a new owner."""
    _owner_changed(session, event, event.data["to_owner"])


def on_stage_changed(session: Session, event: Envelope) -> None:
    """``workflow.stage.changed``: a stage visit begins (and the previous one, by sequence, ends)."""
    data = event.data
    lead_id, at, sequence = data["case_id"], _at(event), event.sequence
    visits = orm.stage_visits_of(session, lead_id)
    if any(visit.sequence == sequence for visit in visits):
        return
    before = [visit for visit in visits if visit.sequence < sequence]
    after = [visit for visit in visits if visit.sequence > sequence]
    left_at = after[0].entered_at if after else None
    row = {
        "lead_id": lead_id,
        "sequence": sequence,
        "stage": data["to_stage"],
        "from_stage": data["from_stage"],
        "entered_at": at,
        "left_at": left_at,
        "left_day": clock.business_date(left_at) if left_at is not None else None,
    }
    orm.merge(session, orm.stage_visits, row, key=("lead_id", "sequence"), update=())
    if data["to_stage"] == "contract":
        orm.set_earliest(session, lead_id, "contract_at", at)
    if before:
        session.execute(
            orm.END_STAGE_VISIT,
            {
                "b_lead_id": lead_id,
                "b_visit": before[-1].sequence,
                "b_left_at": at,
                "b_left_day": clock.business_date(at),
            },
        )
    orm.merge(
        session,
        orm.lead_facts,
        {"lead_id": lead_id, "stage": data["to_stage"], "stage_sequence": sequence},
        key=("lead_id",),
        update=("stage", "stage_sequence"),
        when=orm.newer("stage_sequence"),
    )
    orm.sync_lead_copies(session, lead_id, tables=(orm.stage_visits,))


def on_case_recycled(session: Session, event: Envelope) -> None:
    """``workflow.case.recycled``: the case went to the public pool (公海), first at this time."""
    orm.set_earliest(session, event.data["case_id"], "recycled_at", _at(event))


def on_followup_logged(session: Session, event: Envelope) -> None:
    """``intake.followup.logged``: a contact with the customer on the lead."""
    data = event.data
    row = {
        "lead_id": data["lead_id"],
        "sequence": event.sequence,
        "user_id": data["user_id"],
        "logged_at": _at(event),
        "business_day": clock.business_date(event.occurred_at),
    }
    orm.merge(session, orm.followups, row, key=("lead_id", "sequence"), update=())


def _task(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": data["task_id"],
        "lead_id": data["case_id"],
        "kind": data["kind"],
        "assignee_id": data.get("assignee_id") or data.get("assignee_role"),
    }


def on_task_created(session: Session, event: Envelope) -> None:
    """``workflow.task.created``: a to-do, counted on the day it was created."""
    row = {**_task(event.data), "business_day": clock.business_date(event.occurred_at), "created_at": _at(event)}
    orm.merge(
        session,
        orm.tasks,
        row,
        key=("task_id",),
        update=("lead_id", "kind", "assignee_id", "business_day", "created_at"),
        when=orm.earlier("created_at"),
    )


def _task_milestone(session: Session, event: Envelope, column: str) -> None:
    row = {**_task(event.data), column: _at(event)}
    orm.merge(
        session,
        orm.tasks,
        row,
        key=("task_id",),
        update=(column,),
        when=orm.earlier(column),
    )


def on_task_overdue(session: Session, event: Envelope) -> None:
    """``workflow.task.overdue``: the to-do missed its deadline (an SLA breach)."""
    _task_milestone(session, event, "overdue_at")


def on_task_completed(session: Session, event: Envelope) -> None:
    """``workflow.task.completed``: the to-do was done."""
    _task_milestone(session, event, "completed_at")


def _submission(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "submission_id": data["submission_id"],
        "lead_id": data["case_id"],
        "lender": data["lender"],
        "lender_product": data["lender_product"],
        "amount": _money(data["amount"]),
    }


def on_lender_submitted(session: Session, event: Envelope) -> None:
    """``workflow.lender.submitted``: a submission to a lender (its decision may have arrived first)."""
    data = event.data
    row = {
        **_submission(data),
        "submitted_at": _at(event),
        "business_day": clock.business_date(event.occurred_at),
    }
    orm.merge(
        session,
        orm.lender_submissions,
        row,
        key=("submission_id",),
        update=("business_day", "submitted_at"),
        when=orm.earlier("submitted_at"),
    )
    orm.sync_lead_copies(session, data["case_id"], tables=(orm.lender_submissions,))
    orm.set_earliest(session, data["case_id"], "lender_submitted_at", _at(event))


def on_lender_decided(session: Session, event: Envelope) -> None:
    """``workflow.lender.decided``: the lender's decision on a submission; an approval is a milestone."""
    data = event.data
    row = {
        **_submission(data),
        "decision": data["decision"],
        "approved_amount": _money(data.get("approved_amount")),
        "decided_at": _at(event),
        "decided_day": clock.business_date(event.occurred_at),
    }
    orm.merge(
        session,
        orm.lender_submissions,
        row,
        key=("submission_id",),
        update=("decision", "approved_amount", "decided_day", "decided_at"),
    )
    orm.sync_lead_copies(session, data["case_id"], tables=(orm.lender_submissions,))
    if data["decision"] == "approved":
        orm.set_earliest(session, data["case_id"], "lender_approved_at", _at(event))
    else:
        orm.ensure_lead(session, data["case_id"])


LOAN_ATTRIBUTES = ("lender", "principal", "commission", "disbursed_at", "business_day", "vintage")


def on_loan_disbursed(session: Session, event: Envelope) -> None:
    """``workflow.loan.disbursed``: a loan, its principal and commission, counted in its disbursement month."""
    data = event.data
    day = clock.business_date(event.occurred_at)
    row = {
        "loan_id": data["loan_id"],
        "lead_id": data["case_id"],
        "lender": data["lender"],
        "principal": _money(data["principal"]),
        "commission": _money(data["commission"]),
        "disbursed_at": _at(event),
        "business_day": day,
        "vintage": month_key(day),
    }
    orm.merge(session, orm.loan_facts, row, key=("loan_id",), update=LOAN_ATTRIBUTES)
    orm.sync_lead_copies(session, data["case_id"], tables=(orm.loan_facts,))
    orm.set_earliest(session, data["case_id"], "disbursed_at", _at(event))


def _worse(table: Any, incoming: Any) -> Any:
    days, sequence = table.c.worst_days_past_due, table.c.worst_sequence
    return sa.or_(
        days.is_(None),
        days < incoming.worst_days_past_due,
        sa.and_(days == incoming.worst_days_past_due, sequence < incoming.worst_sequence),
    )


def on_loan_overdue(session: Session, event: Envelope) -> None:
    """``workflow.loan.overdue``: keep the report with the most days past due (ties: the later sequence)."""
    data = event.data
    row = {
        "loan_id": data["loan_id"],
        "lead_id": data["case_id"],
        "worst_outstanding": _money(data["outstanding_principal"]),
        "worst_days_past_due": data["days_past_due"],
        "worst_sequence": event.sequence,
    }
    orm.merge(
        session,
        orm.loan_facts,
        row,
        key=("loan_id",),
        # Days last: on MySQL each assignment sees the ones before it, and _worse must hold or fail as a whole.
        update=("worst_outstanding", "worst_sequence", "worst_days_past_due"),
        when=_worse,
    )
    orm.sync_lead_copies(session, data["case_id"], tables=(orm.loan_facts,))


def on_loan_settled(session: Session, event: Envelope) -> None:
    """``workflow.loan.settled``: when the last repayment was paid."""
    data = event.data
    row = {
        "loan_id": data["loan_id"],
        "lead_id": data["case_id"],
        "settled_at": naive_utc(clock.parse_iso(data["settled_at"])),
    }
    orm.merge(session, orm.loan_facts, row, key=("loan_id",), update=("settled_at",))
    orm.sync_lead_copies(session, data["case_id"], tables=(orm.loan_facts,))


def on_spend_recorded(session: Session, event: Envelope) -> None:
    """``intake.channel.spend_recorded``: a channel's spend for a month (the newer record replaces it)."""
    data = event.data
    row = {
        "channel": data["channel"],
        "month": data["month"],
        "amount": _money(data["amount"]),
        "last_sequence": event.sequence,
    }
    orm.merge(
        session,
        orm.channel_spend,
        row,
        key=("channel", "month"),
        update=("amount", "last_sequence"),
        when=orm.newer("last_sequence"),
    )


def on_user_recorded(session: Session, event: Envelope) -> None:
    """``identity.user.*``: a staff member's display name and team, for the leaderboard."""
    data = event.data
    row = {
        "user_id": data["user_id"],
        "display_name": data["display_name"],
        "team_id": data.get("team_id"),
        "active": bool(data.get("active", True)),
        "last_sequence": event.sequence,
    }
    orm.merge(
        session,
        orm.staff,
        row,
        key=("user_id",),
        update=("display_name", "team_id", "active", "last_sequence"),
        when=orm.newer("last_sequence"),
    )


def on_team_recorded(session: Session, event: Envelope) -> None:
    """``identity.team.*``: a team's name and manager."""
    data = event.data
    row = {
        "team_id": data["team_id"],
        "name": data["name"],
        "manager_id": data.get("manager_id"),
        "last_sequence": event.sequence,
    }
    orm.merge(
        session,
        orm.teams,
        row,
        key=("team_id",),
        update=("name", "manager_id", "last_sequence"),
        when=orm.newer("last_sequence"),
    )


PROJECTIONS: dict[str, Projection] = {
    "intake.lead.created": on_lead_recorded,
    "intake.lead.updated": on_lead_recorded,
    "intake.application.submitted": on_application_submitted,
    "intake.channel.spend_recorded": on_spend_recorded,
    "risk.evaluation.completed": on_evaluation_completed,
    "workflow.case.assigned": on_case_assigned,
    "workflow.case.claimed": on_case_claimed,
    "workflow.case.recycled": on_case_recycled,
    "intake.followup.logged": on_followup_logged,
    "workflow.task.created": on_task_created,
    "workflow.task.overdue": on_task_overdue,
    "workflow.task.completed": on_task_completed,
    "workflow.stage.changed": on_stage_changed,
    "workflow.lender.submitted": on_lender_submitted,
    "workflow.lender.decided": on_lender_decided,
    "workflow.loan.disbursed": on_loan_disbursed,
    "workflow.loan.overdue": on_loan_overdue,
    "workflow.loan.settled": on_loan_settled,
    "identity.user.created": on_user_recorded,
    "identity.user.updated": on_user_recorded,
    "identity.user.deactivated": on_user_recorded,
    "identity.team.created": on_team_recorded,
    "identity.team.updated": on_team_recorded,
}


REBUILD_BATCH = 2000


def rebuild(runtime: Runtime, *, batch: int = REBUILD_BATCH) -> int:
    """Empty every read model and replay the whole archive into it; answers how many events were replayed.

    The emptying and the first page commit together; later pages each in their own transaction. Projections
    are idempotent, so events the live consumer applies meanwhile are not counted twice.
    """
    replayed, after, first = 0, None, True
    while True:
        count, after = runtime.transaction(replay_page, after=after, limit=batch, clear=first)
        first = False
        if not count:
            return replayed
        replayed += count
        log.info("reporting_rebuild_progress", replayed=replayed)


def replay_page(
    uow: UnitOfWork, *, after: tuple[Any, str] | None, limit: int, clear: bool
) -> tuple[int, tuple[Any, str] | None]:
    """Project the next page of the archive (after emptying the read models, for the first); answers how many
    events it held and where the next page starts."""
    if clear:
        orm.clear_read_models(uow.session)
    page = orm.archived_envelopes(uow.session, after=after, limit=limit)
    for row in page:
        project(uow.session, Envelope.from_json(row.envelope))
    return len(page), ((page[-1].received_at, page[-1].event_id) if page else after)


def count_archived(session: Session) -> int:
    """How many events the archive holds."""
    return int(session.execute(sa.select(sa.func.count()).select_from(orm.event_archive)).scalar_one())
