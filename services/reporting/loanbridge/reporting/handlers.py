"""reporting's event handlers: archive every event, then update the read models from it.

Each projection is idempotent and order-tolerant on its own (not only through the inbox): attributes keep the
event with the newer ``sequence`` of its aggregate, milestones the earliest business time, and rows are keyed on
business ids. So the rebuild may replay the archive in any order and a duplicate changes nothing.

Projections do not write: they add their changes to the ``ReadModels`` of the unit of work, which merges repeated
changes of one row in memory and writes each table with one statement at commit (``batching``). A consumer's
batch of 100 events is about 15 statements, not 385.
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
from loanbridge.reporting.batching import Group, PendingRows, Rule, Upsert, earlier, latest, newer
from loanbridge.reporting.domain.measures import month_key

log = structlog.get_logger(__name__)

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
# The first business time the lead reached each step (the funnel's milestones and contract, the public pool).
LEAD_MILESTONES = (*orm.MILESTONES, "contract_at", "recycled_at")

LEAD = Group(LEAD_ATTRIBUTES, newer("last_sequence"))
OWNER = Group(("owner_id", "team_id", "owner_sequence"), newer("owner_sequence"))
STAGE = Group(("stage", "stage_sequence"), newer("stage_sequence"))
MILESTONE = {column: Group((column,), earlier(column)) for column in LEAD_MILESTONES}
LEAD_FACTS = Upsert(orm.lead_facts, ("lead_id",), groups=(LEAD, OWNER, STAGE, *MILESTONE.values()))

RISK_EVALUATIONS = Upsert(
    orm.risk_evaluations,
    ("evaluation_id",),
    inserted=("lead_id", "evaluated_product", "decision", "evaluated_at", "business_day"),
)

SUBMISSION = ("lead_id", "lender", "lender_product", "amount")
SUBMITTED = Group(("business_day", "submitted_at"), earlier("submitted_at"))
DECIDED = Group(("decision", "approved_amount", "decided_day", "decided_at"), latest("decided_at"))
LENDER_SUBMISSIONS = Upsert(
    orm.lender_submissions, ("submission_id",), inserted=SUBMISSION, groups=(SUBMITTED, DECIDED)
)


def _worse_replaces(held: dict[str, Any], incoming: dict[str, Any]) -> bool:
    days, new_days = held["worst_days_past_due"], incoming["worst_days_past_due"]
    if days is None:
        return True
    if new_days is None:
        return False
    if days != new_days:
        return days < new_days
    sequence, new_sequence = held["worst_sequence"], incoming["worst_sequence"]
    return sequence is not None and new_sequence is not None and sequence < new_sequence


def _worse_condition(table: sa.Table, incoming: Any) -> Any:
    days, sequence = table.c.worst_days_past_due, table.c.worst_sequence
    return sa.or_(
        days.is_(None),
        days < incoming.worst_days_past_due,
        sa.and_(days == incoming.worst_days_past_due, sequence < incoming.worst_sequence),
    )


# The overdue report with the most days past due (ties: the later sequence).
WORSE = Rule("worst_sequence", _worse_replaces, _worse_condition)
LOAN_ATTRIBUTES = ("lender", "principal", "commission", "disbursed_at", "business_day", "vintage")
DISBURSED = Group(LOAN_ATTRIBUTES, latest("disbursed_at"))
# Days last: on MySQL each assignment sees the ones before it, and the rule must hold or fail as a whole.
WORST = Group(("worst_outstanding", "worst_sequence", "worst_days_past_due"), WORSE)
SETTLED = Group(("settled_at",), latest("settled_at"))
LOAN_FACTS = Upsert(orm.loan_facts, ("loan_id",), inserted=("lead_id",), groups=(DISBURSED, WORST, SETTLED))

FOLLOWUPS = Upsert(orm.followups, ("lead_id", "sequence"), inserted=("user_id", "logged_at", "business_day"))

TASK = ("lead_id", "kind", "assignee_id")
TASK_CREATED = Group((*TASK, "business_day", "created_at"), earlier("created_at"))
TASK_MILESTONE = {column: Group((column,), earlier(column)) for column in ("overdue_at", "completed_at")}
TASKS = Upsert(orm.tasks, ("task_id",), inserted=TASK, groups=(TASK_CREATED, *TASK_MILESTONE.values()))

SPEND = Group(("amount", "last_sequence"), newer("last_sequence"))
CHANNEL_SPEND = Upsert(orm.channel_spend, ("channel", "month"), groups=(SPEND,))
STAFF_MEMBER = Group(("display_name", "team_id", "active", "last_sequence"), newer("last_sequence"))
STAFF = Upsert(orm.staff, ("user_id",), groups=(STAFF_MEMBER,))
TEAM = Group(("name", "manager_id", "last_sequence"), newer("last_sequence"))
TEAMS = Upsert(orm.teams, ("team_id",), groups=(TEAM,))

VISIT = ("stage", "from_stage", "entered_at")
NEW_VISITS = Upsert(orm.stage_visits, ("lead_id", "sequence"), inserted=(*VISIT, "left_at", "left_day"))
# A visit already stored that a new one, next by sequence, ends.
LEFT = Group(("left_day", "left_at"), latest("left_at"))
ENDED_VISITS = Upsert(orm.stage_visits, ("lead_id", "sequence"), inserted=VISIT, groups=(LEFT,))

# lead_facts first: the copies of its columns onto the facts are taken after every table is written.
UPSERTS = (LEAD_FACTS, RISK_EVALUATIONS, LENDER_SUBMISSIONS, LOAN_FACTS, FOLLOWUPS, TASKS, CHANNEL_SPEND, STAFF, TEAMS)


class ReadModels:
    """The read model changes of one unit of work (a consumer's batch, a page of the rebuild), merged per row and
    written at its commit with one statement per table."""

    def __init__(self) -> None:
        self.rows = {spec: PendingRows(spec) for spec in UPSERTS}
        # (lead, sequence) -> the visit a stage change begins (the first event of a sequence wins).
        self.visits: dict[tuple[str, int], dict[str, Any]] = {}
        # The leads whose filter columns are copied again onto their facts of each table at commit.
        self.copies: dict[sa.Table, set[str]] = {table: set() for table in orm.COPYING_TABLES}

    def upsert(self, spec: Upsert, values: dict[str, Any], group: Group | None = None) -> None:
        self.rows[spec].add(values, group)

    def set_earliest(self, lead_id: str, column: str, at: datetime) -> None:
        """Record a milestone of the lead at ``at`` unless it was reached earlier."""
        self.upsert(LEAD_FACTS, {"lead_id": lead_id, column: at}, MILESTONE[column])

    def ensure_lead(self, lead_id: str) -> None:
        """A bare fact row for the lead when no event of it arrived yet (no KPI counts it before its lead event)."""
        self.upsert(LEAD_FACTS, {"lead_id": lead_id})

    def copy_lead(self, lead_id: str, tables: tuple[sa.Table, ...] = orm.COPYING_TABLES) -> None:
        """Copy the lead's filter columns, as they are at commit, onto its facts in ``tables``."""
        for table in tables:
            self.copies[table].add(lead_id)

    def begin_visit(self, lead_id: str, sequence: int, row: dict[str, Any]) -> None:
        self.visits.setdefault((lead_id, sequence), row)

    def write(self, session: Session) -> None:
        """Write every change: the stage visits first (placing them adds to lead_facts), then each table once,
        then the leads' filter columns onto their facts."""
        self._place_visits(session)
        for spec in UPSERTS:
            self.rows[spec].write(session)
        for table, leads in self.copies.items():
            if leads:
                session.execute(orm.copy_lead_columns(table), {"b_leads": sorted(leads)})

    def _place_visits(self, session: Session) -> None:
        """Insert the visits not stored yet, each left when the next one by sequence (stored or new) entered, and
        end the stored visits that a new one follows; the lead's visits are read once, with every other lead's of
        the batch. A new visit makes its stage the lead's current one if its sequence is the newest."""
        if not self.visits:
            return
        new, ended = PendingRows(NEW_VISITS), PendingRows(ENDED_VISITS)
        stored: dict[str, dict[int, Any]] = {}
        leads = sorted({lead_id for lead_id, _ in self.visits})
        for visit in session.execute(orm.STAGE_VISITS_OF, {"b_leads": leads}):
            stored.setdefault(visit.lead_id, {})[visit.sequence] = visit
        arriving: dict[str, dict[int, dict[str, Any]]] = {}
        for (lead_id, sequence), row in self.visits.items():
            if sequence not in stored.get(lead_id, {}):  # else a duplicate: it changes nothing
                arriving.setdefault(lead_id, {})[sequence] = row
        for lead_id, visits in arriving.items():
            known = stored.get(lead_id, {})
            order = sorted({*known, *visits})
            for index, sequence in enumerate(order):
                following = order[index + 1] if index + 1 < len(order) else None
                if sequence in visits:
                    left_at = _entered_at(known, visits, following)
                    new.add({**visits[sequence], "left_at": left_at, "left_day": _day(left_at)})
                elif following in visits:
                    left_at = visits[following]["entered_at"]
                    visit = known[sequence]
                    ended.add(
                        {
                            "lead_id": lead_id,
                            "sequence": sequence,
                            **{name: getattr(visit, name) for name in VISIT},
                            "left_at": left_at,
                            "left_day": _day(left_at),
                        },
                        LEFT,
                    )
            for sequence, row in visits.items():
                self.upsert(LEAD_FACTS, {"lead_id": lead_id, "stage": row["stage"], "stage_sequence": sequence}, STAGE)
                if row["stage"] == "contract":
                    self.set_earliest(lead_id, "contract_at", row["entered_at"])
            self.copy_lead(lead_id, (orm.stage_visits,))
        new.write(session)
        ended.write(session)


def _entered_at(known: dict[int, Any], visits: dict[int, dict[str, Any]], sequence: int | None) -> datetime | None:
    if sequence is None:
        return None
    return visits[sequence]["entered_at"] if sequence in visits else known[sequence].entered_at


def _day(at: datetime | None) -> Any:
    return clock.business_date(at) if at is not None else None


Projection = Callable[[ReadModels, Envelope], None]


def read_models(uow: UnitOfWork) -> ReadModels:
    """The read model changes of this unit of work, written at its commit."""
    return uow.at_commit("reporting.read_models", ReadModels, _write)


def _write(session: Session, models: ReadModels) -> None:
    models.write(session)


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
    project(read_models(uow), event)


def project(models: ReadModels, event: Envelope) -> None:
    """Apply one event to the read models (the live path and the rebuild both come here)."""
    projection = PROJECTIONS.get(event.type)
    if projection is not None:
        projection(models, event)


def _at(event: Envelope) -> datetime:
    return naive_utc(event.occurred_at)


def on_lead_recorded(models: ReadModels, event: Envelope) -> None:
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
    models.upsert(LEAD_FACTS, row, LEAD)
    models.copy_lead(data["lead_id"])


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def on_application_submitted(models: ReadModels, event: Envelope) -> None:
    """``intake.application.submitted``: the lead reached 提交申请."""
    models.set_earliest(event.data["lead_id"], "submitted_at", _at(event))


def on_evaluation_completed(models: ReadModels, event: Envelope) -> None:
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
    models.upsert(RISK_EVALUATIONS, row)
    models.copy_lead(data["lead_id"], (orm.risk_evaluations,))
    if data["decision"] == "approve":
        models.set_earliest(data["lead_id"], "risk_approved_at", _at(event))
    else:
        models.ensure_lead(data["lead_id"])


def _owner_changed(models: ReadModels, event: Envelope, owner: str | None) -> None:
    data = event.data
    row = {
        "lead_id": data["case_id"],
        "owner_id": owner,
        "team_id": data.get("team_id"),
        "owner_sequence": event.sequence,
    }
    models.upsert(LEAD_FACTS, row, OWNER)
    models.copy_lead(data["case_id"])


def on_case_assigned(models: ReadModels, event: Envelope) -> None:
    """``workflow.case.assigned``: the lead's owner and the owner's team."""
    _owner_changed(models, event, event.data["assignee_id"])


def on_case_claimed(models: ReadModels, event: Envelope) -> None:
    """``workflow.case.claimed``: taken from the public pool by a new owner."""
    _owner_changed(models, event, event.data["to_owner"])


def on_stage_changed(models: ReadModels, event: Envelope) -> None:
    """``workflow.stage.changed``: a stage visit begins (and the previous one, by sequence, ends). Placed among
    the lead's visits at commit (``ReadModels._place_visits``); a visit already stored changes nothing."""
    data = event.data
    lead_id = data["case_id"]
    row = {
        "lead_id": lead_id,
        "sequence": event.sequence,
        "stage": data["to_stage"],
        "from_stage": data["from_stage"],
        "entered_at": _at(event),
    }
    models.begin_visit(lead_id, event.sequence, row)


def on_case_recycled(models: ReadModels, event: Envelope) -> None:
    """``workflow.case.recycled``: the case went to the public pool (公海), first at this time."""
    models.set_earliest(event.data["case_id"], "recycled_at", _at(event))


def on_followup_logged(models: ReadModels, event: Envelope) -> None:
    """``intake.followup.logged``: a contact with the customer on the lead."""
    data = event.data
    row = {
        "lead_id": data["lead_id"],
        "sequence": event.sequence,
        "user_id": data["user_id"],
        "logged_at": _at(event),
        "business_day": clock.business_date(event.occurred_at),
    }
    models.upsert(FOLLOWUPS, row)


def _task(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "task_id": data["task_id"],
        "lead_id": data["case_id"],
        "kind": data["kind"],
        "assignee_id": data.get("assignee_id") or data.get("assignee_role"),
    }


def on_task_created(models: ReadModels, event: Envelope) -> None:
    """``workflow.task.created``: a to-do, counted on the day it was created."""
    row = {**_task(event.data), "business_day": clock.business_date(event.occurred_at), "created_at": _at(event)}
    models.upsert(TASKS, row, TASK_CREATED)


def _task_milestone(models: ReadModels, event: Envelope, column: str) -> None:
    models.upsert(TASKS, {**_task(event.data), column: _at(event)}, TASK_MILESTONE[column])


def on_task_overdue(models: ReadModels, event: Envelope) -> None:
    """``workflow.task.overdue``: the to-do missed its deadline (an SLA breach)."""
    _task_milestone(models, event, "overdue_at")


def on_task_completed(models: ReadModels, event: Envelope) -> None:
    """``workflow.task.completed``: the to-do was done."""
    _task_milestone(models, event, "completed_at")


def _submission(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "submission_id": data["submission_id"],
        "lead_id": data["case_id"],
        "lender": data["lender"],
        "lender_product": data["lender_product"],
        "amount": _money(data["amount"]),
    }


def on_lender_submitted(models: ReadModels, event: Envelope) -> None:
    """``workflow.lender.submitted``: a submission to a lender (its decision may have arrived first)."""
    data = event.data
    row = {
        **_submission(data),
        "submitted_at": _at(event),
        "business_day": clock.business_date(event.occurred_at),
    }
    models.upsert(LENDER_SUBMISSIONS, row, SUBMITTED)
    models.copy_lead(data["case_id"], (orm.lender_submissions,))
    models.set_earliest(data["case_id"], "lender_submitted_at", _at(event))


def on_lender_decided(models: ReadModels, event: Envelope) -> None:
    """``workflow.lender.decided``: the lender's decision on a submission; an approval is a milestone."""
    data = event.data
    row = {
        **_submission(data),
        "decision": data["decision"],
        "approved_amount": _money(data.get("approved_amount")),
        "decided_at": _at(event),
        "decided_day": clock.business_date(event.occurred_at),
    }
    models.upsert(LENDER_SUBMISSIONS, row, DECIDED)
    models.copy_lead(data["case_id"], (orm.lender_submissions,))
    if data["decision"] == "approved":
        models.set_earliest(data["case_id"], "lender_approved_at", _at(event))
    else:
        models.ensure_lead(data["case_id"])


def on_loan_disbursed(models: ReadModels, event: Envelope) -> None:
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
    models.upsert(LOAN_FACTS, row, DISBURSED)
    models.copy_lead(data["case_id"], (orm.loan_facts,))
    models.set_earliest(data["case_id"], "disbursed_at", _at(event))


def on_loan_overdue(models: ReadModels, event: Envelope) -> None:
    """``workflow.loan.overdue``: keep the report with the most days past due (ties: the later sequence)."""
    data = event.data
    row = {
        "loan_id": data["loan_id"],
        "lead_id": data["case_id"],
        "worst_outstanding": _money(data["outstanding_principal"]),
        "worst_days_past_due": data["days_past_due"],
        "worst_sequence": event.sequence,
    }
    models.upsert(LOAN_FACTS, row, WORST)
    models.copy_lead(data["case_id"], (orm.loan_facts,))


def on_loan_settled(models: ReadModels, event: Envelope) -> None:
    """``workflow.loan.settled``: when the last repayment was paid."""
    data = event.data
    row = {
        "loan_id": data["loan_id"],
        "lead_id": data["case_id"],
        "settled_at": naive_utc(clock.parse_iso(data["settled_at"])),
    }
    models.upsert(LOAN_FACTS, row, SETTLED)
    models.copy_lead(data["case_id"], (orm.loan_facts,))


def on_spend_recorded(models: ReadModels, event: Envelope) -> None:
    """``intake.channel.spend_recorded``: a channel's spend for a month (the newer record replaces it)."""
    data = event.data
    row = {
        "channel": data["channel"],
        "month": data["month"],
        "amount": _money(data["amount"]),
        "last_sequence": event.sequence,
    }
    models.upsert(CHANNEL_SPEND, row, SPEND)


def on_user_recorded(models: ReadModels, event: Envelope) -> None:
    """``identity.user.*``: a staff member's display name and team, for the leaderboard."""
    data = event.data
    row = {
        "user_id": data["user_id"],
        "display_name": data["display_name"],
        "team_id": data.get("team_id"),
        "active": bool(data.get("active", True)),
        "last_sequence": event.sequence,
    }
    models.upsert(STAFF, row, STAFF_MEMBER)


def on_team_recorded(models: ReadModels, event: Envelope) -> None:
    """``identity.team.*``: a team's name and manager."""
    data = event.data
    row = {
        "team_id": data["team_id"],
        "name": data["name"],
        "manager_id": data.get("manager_id"),
        "last_sequence": event.sequence,
    }
    models.upsert(TEAMS, row, TEAM)


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
    models = read_models(uow)
    for row in page:
        project(models, Envelope.from_json(row.envelope))
    return len(page), ((page[-1].received_at, page[-1].event_id) if page else after)


def count_archived(session: Session) -> int:
    """How many events the archive holds."""
    return int(session.execute(sa.select(sa.func.count()).select_from(orm.event_archive)).scalar_one())
