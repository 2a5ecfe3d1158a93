"""reporting's tables: the append-only event archive and the read models built only from it.

Every read model row is keyed on a business id (lead, evaluation, submission, loan, stage visit, month, staff
member, team), so applying an event twice, or applying a set of events in another order, leaves the same rows:
attributes take the event with the newer ``sequence``, milestones the earliest business time.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common.tables import Timestamp

metadata = sa.MetaData()

# The lead's filter columns that its facts (evaluations, submissions, loans, stage visits) carry a copy of, kept in
# step by ``copy_lead_columns``: KPIs over millions of facts filter and group without joining them to their leads.
LEAD_COPIES = ("channel", "product", "city", "team_id", "owner_id", "submitted_by")

event_archive = sa.Table(
    "event_archive",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(120), nullable=False, index=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False, index=True),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
)

# One row per lead (= workflow's case): intake's attributes, workflow's owner and stage, and the first business
# time the lead reached each step of the conversion funnel. A row may exist before its lead event arrives
# (events are not ordered); it has no business_day until then and no KPI counts it.
lead_facts = sa.Table(
    "lead_facts",
    metadata,
    sa.Column("lead_id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), nullable=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("city", sa.String(32), nullable=True),
    sa.Column("partner_id", sa.String(36), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Column("amount", sa.Numeric(14, 2), nullable=True),
    sa.Column("business_day", sa.Date, nullable=True),
    sa.Column("occurred_at", Timestamp, nullable=True),
    sa.Column("last_sequence", sa.BigInteger, nullable=True),
    sa.Column("owner_id", sa.String(64), nullable=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("owner_sequence", sa.BigInteger, nullable=True),
    sa.Column("stage", sa.String(32), nullable=True),
    sa.Column("stage_sequence", sa.BigInteger, nullable=True),
    sa.Column("submitted_at", Timestamp, nullable=True),
    sa.Column("risk_approved_at", Timestamp, nullable=True),
    sa.Column("lender_submitted_at", Timestamp, nullable=True),
    sa.Column("lender_approved_at", Timestamp, nullable=True),
    sa.Column("disbursed_at", Timestamp, nullable=True),
    sa.Column("contract_at", Timestamp, nullable=True),
    sa.Column("recycled_at", Timestamp, nullable=True),
    sa.Index("ix_lead_facts_day_channel_product", "business_day", "channel", "product"),
    sa.Index("ix_lead_facts_channel_product_day", "channel", "product", "business_day"),
    sa.Index("ix_lead_facts_channel_day", "channel", "business_day"),
    sa.Index("ix_lead_facts_product_day_channel", "product", "business_day", "channel"),
    sa.Index("ix_lead_facts_team_day", "team_id", "business_day"),
    sa.Index("ix_lead_facts_owner_day", "owner_id", "business_day"),
)

MILESTONES = ("submitted_at", "risk_approved_at", "lender_submitted_at", "lender_approved_at", "disbursed_at")

risk_evaluations = sa.Table(
    "risk_evaluations",
    metadata,
    sa.Column("evaluation_id", sa.String(36), primary_key=True),
    sa.Column("lead_id", sa.String(36), nullable=False, index=True),
    sa.Column("evaluated_product", sa.String(32), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("evaluated_at", Timestamp, nullable=False),
    sa.Column("business_day", sa.Date, nullable=False),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("city", sa.String(32), nullable=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("owner_id", sa.String(64), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Index("ix_risk_evaluations_day_channel_product", "business_day", "channel", "product"),
    sa.Index("ix_risk_evaluations_channel_product_day", "channel", "product", "business_day"),
)

lender_submissions = sa.Table(
    "lender_submissions",
    metadata,
    sa.Column("submission_id", sa.String(36), primary_key=True),
    sa.Column("lead_id", sa.String(36), nullable=False, index=True),
    sa.Column("lender", sa.String(64), nullable=False),
    sa.Column("lender_product", sa.String(64), nullable=False),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("submitted_at", Timestamp, nullable=True),
    sa.Column("business_day", sa.Date, nullable=True),
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("approved_amount", sa.Numeric(14, 2), nullable=True),
    sa.Column("decided_at", Timestamp, nullable=True),
    sa.Column("decided_day", sa.Date, nullable=True, index=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("city", sa.String(32), nullable=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("owner_id", sa.String(64), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Index("ix_lender_submissions_day_channel_product", "business_day", "channel", "product"),
    sa.Index("ix_lender_submissions_channel_product_day", "channel", "product", "business_day"),
)

loan_facts = sa.Table(
    "loan_facts",
    metadata,
    sa.Column("loan_id", sa.String(36), primary_key=True),
    sa.Column("lead_id", sa.String(36), nullable=False, index=True),
    sa.Column("lender", sa.String(64), nullable=True),
    sa.Column("principal", sa.Numeric(14, 2), nullable=True),
    sa.Column("commission", sa.Numeric(14, 2), nullable=True),
    sa.Column("disbursed_at", Timestamp, nullable=True),
    sa.Column("business_day", sa.Date, nullable=True),
    sa.Column("vintage", sa.String(7), nullable=True),
    # The overdue report with the most days past due (ties: the later sequence), and what it said was left.
    sa.Column("worst_days_past_due", sa.Integer, nullable=True),
    sa.Column("worst_sequence", sa.BigInteger, nullable=True),
    sa.Column("worst_outstanding", sa.Numeric(14, 2), nullable=True),
    sa.Column("settled_at", Timestamp, nullable=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("city", sa.String(32), nullable=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("owner_id", sa.String(64), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Index("ix_loan_facts_day_channel_product", "business_day", "channel", "product"),
    sa.Index("ix_loan_facts_channel_product_day", "channel", "product", "business_day"),
    sa.Index("ix_loan_facts_product_day", "product", "business_day"),
)

# A case's stay in a stage: entered by the stage.changed of ``sequence``, left when the next one (by sequence)
# entered another.
stage_visits = sa.Table(
    "stage_visits",
    metadata,
    sa.Column("lead_id", sa.String(36), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("from_stage", sa.String(32), nullable=False),
    sa.Column("entered_at", Timestamp, nullable=False),
    sa.Column("left_at", Timestamp, nullable=True),
    sa.Column("left_day", sa.Date, nullable=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("product", sa.String(32), nullable=True),
    sa.Column("city", sa.String(32), nullable=True),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("owner_id", sa.String(64), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=True),
    sa.Index("ix_stage_visits_left_day_channel_product", "left_day", "channel", "product"),
    sa.Index("ix_stage_visits_channel_product_left_day", "channel", "product", "left_day"),
)

# A contact with the customer (intake.followup.logged), keyed on its lead and its sequence there.
followups = sa.Table(
    "followups",
    metadata,
    sa.Column("lead_id", sa.String(36), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("logged_at", Timestamp, nullable=False),
    sa.Column("business_day", sa.Date, nullable=False, index=True),
)

# A to-do with a deadline (workflow.task.*): when it was created and, if it was, when it went overdue.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),
    sa.Column("lead_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("assignee_id", sa.String(64), nullable=True),
    sa.Column("created_at", Timestamp, nullable=True),
    sa.Column("business_day", sa.Date, nullable=True, index=True),
    sa.Column("overdue_at", Timestamp, nullable=True),
    sa.Column("completed_at", Timestamp, nullable=True),
)

channel_spend = sa.Table(
    "channel_spend",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
)

staff = sa.Table(
    "staff",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("team_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("manager_id", sa.String(64), nullable=True),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
)

READ_MODELS = (
    lead_facts,
    risk_evaluations,
    lender_submissions,
    loan_facts,
    stage_visits,
    followups,
    tasks,
    channel_spend,
    staff,
    teams,
)


# The fact tables that carry a copy of their lead's filter columns.
COPYING_TABLES = (risk_evaluations, lender_submissions, loan_facts, stage_visits)


@cache
def copy_lead_columns(table: sa.Table) -> Any:
    """Copy the filter columns of each lead in ``b_leads``, as they are now, onto its facts in ``table`` (NULLs
    for a lead not known yet): one statement for a batch's leads."""
    return (
        table.update()
        .where(table.c.lead_id.in_(sa.bindparam("b_leads", expanding=True)))
        .values(
            {
                name: sa.select(lead_facts.c[name]).where(lead_facts.c.lead_id == table.c.lead_id).scalar_subquery()
                for name in LEAD_COPIES
            }
        )
    )


STAGE_VISITS_OF = (
    sa.select(
        stage_visits.c.lead_id,
        stage_visits.c.sequence,
        stage_visits.c.stage,
        stage_visits.c.from_stage,
        stage_visits.c.entered_at,
    )
    .where(stage_visits.c.lead_id.in_(sa.bindparam("b_leads", expanding=True)))
    .order_by(stage_visits.c.lead_id, stage_visits.c.sequence)
)


def clear_read_models(session: Session) -> None:
    """Empty every read model (the archive stays)."""
    for table in READ_MODELS:
        session.execute(table.delete())


def archived_envelopes(session: Session, *, after: tuple[Any, str] | None, limit: int) -> list[Any]:
    """A page of the archive in the order it was received."""
    archive = event_archive
    query = sa.select(archive.c.received_at, archive.c.event_id, archive.c.envelope)
    if after is not None:
        received_at, event_id = after
        query = query.where(
            sa.or_(
                archive.c.received_at > received_at,
                sa.and_(archive.c.received_at == received_at, archive.c.event_id > event_id),
            )
        )
    return list(session.execute(query.order_by(archive.c.received_at, archive.c.event_id).limit(limit)))
