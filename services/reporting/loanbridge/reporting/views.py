"""Read-side queries of reporting's KPI endpoints. docs/reporting.md defines each number they answer.

Every query takes a ``KpiQuery``: a range of business days, the filters (channel, product, city, team, owner)
and the caller's scope (a salesperson's own leads, a manager's teams'). Filters and scope apply to the lead a
fact belongs to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loanbridge.common.uow import UnitOfWork
from loanbridge.reporting import orm
from loanbridge.reporting.domain import measures as m

FILTERS = ("channel", "product", "city", "team_id", "owner_id")
leads = orm.lead_facts


@dataclass(frozen=True)
class KpiQuery:
    """What a KPI is asked for: business days ``start``..``end`` (inclusive), filters, and the caller's scope."""

    start: date
    end: date
    channel: str | None = None
    product: str | None = None
    city: str | None = None
    team_id: str | None = None
    owner_id: str | None = None
    # A salesperson sees the leads they own or entered; a manager the leads of their teams; None is everything.
    scope_user: str | None = None
    scope_teams: tuple[str, ...] | None = None

    @property
    def narrowed_within_channel(self) -> bool:
        """Whether the leads counted are fewer than all of a channel's (filters or scope beyond the channel)."""
        return bool(
            self.product
            or self.city
            or self.team_id
            or self.owner_id
            or self.scope_user
            or self.scope_teams is not None
        )


def lead_conditions(query: KpiQuery, *, table: sa.Table = leads) -> list[Any]:
    """The filters and the scope, as conditions on lead_facts (or on a table that copies its lead's columns)."""
    known = table.c.business_day if table is leads else table.c.product
    conditions: list[Any] = [known.is_not(None)]
    for name in FILTERS:
        value = getattr(query, name)
        if value:
            conditions.append(table.c[name] == value)
    if query.scope_user is not None:
        conditions.append(sa.or_(table.c.owner_id == query.scope_user, table.c.submitted_by == query.scope_user))
    if query.scope_teams is not None:
        conditions.append(table.c.team_id.in_(query.scope_teams) if query.scope_teams else sa.false())
    return conditions


def _in_range(column: Any, query: KpiQuery) -> list[Any]:
    return [column >= query.start, column <= query.end]


def lead_kpis(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """Channel conversion: leads created on the days of the range, per channel and product, and how many of
    them reached each step (submitted, approved by risk, submitted to a lender, approved by one, disbursed)."""
    select = (
        sa.select(
            leads.c.channel,
            leads.c.product,
            sa.func.count().label("leads"),
            sa.func.coalesce(sa.func.sum(leads.c.amount), 0).label("amount"),
            *(sa.func.count(leads.c[column]).label(column) for column in orm.MILESTONES),
            sa.func.count(leads.c.recycled_at).label("recycled"),
        )
        .where(*_in_range(leads.c.business_day, query), *lead_conditions(query))
        .group_by(leads.c.channel, leads.c.product)
        .order_by(leads.c.channel, leads.c.product)
    )
    return [
        {
            "channel": row.channel,
            "product": row.product,
            "leads": row.leads,
            "amount": float(row.amount),
            "submitted": row.submitted_at,
            "risk_approved": row.risk_approved_at,
            "lender_submitted": row.lender_submitted_at,
            "lender_approved": row.lender_approved_at,
            "disbursed": row.disbursed_at,
            "conversion_rate": m.ratio(row.disbursed_at, row.leads),
            "recycled": row.recycled,
            "recycle_rate": m.ratio(row.recycled, row.leads),
        }
        for row in uow.session.execute(select)
    ]


def _leads_per_channel(uow: UnitOfWork, query: KpiQuery, *, narrowed: bool) -> dict[str, int]:
    conditions = (
        lead_conditions(query) if narrowed else lead_conditions(KpiQuery(query.start, query.end, query.channel))
    )
    select = (
        sa.select(leads.c.channel, sa.func.count().label("leads"))
        .where(*_in_range(leads.c.business_day, query), *conditions)
        .group_by(leads.c.channel)
    )
    return {row.channel: row.leads for row in uow.session.execute(select)}


def _loans_per(uow: UnitOfWork, query: KpiQuery, key: str) -> dict[Any, Any]:
    """Loans disbursed in the range, by one of their lead's columns (copied onto each loan)."""
    loans = orm.loan_facts
    select = (
        sa.select(
            loans.c[key].label("key"),
            sa.func.count().label("loans"),
            sa.func.coalesce(sa.func.sum(loans.c.principal), 0).label("principal"),
            sa.func.coalesce(sa.func.sum(loans.c.commission), 0).label("commission"),
        )
        .where(*_in_range(loans.c.business_day, query), *lead_conditions(query, table=loans))
        .group_by(loans.c[key])
    )
    return {row.key: row for row in uow.session.execute(select)}


def _monthly_spend(uow: UnitOfWork, query: KpiQuery) -> dict[str, dict[str, Decimal]]:
    spend = orm.channel_spend
    select = sa.select(spend).where(spend.c.month.in_(m.months_between(query.start, query.end)))
    if query.channel:
        select = select.where(spend.c.channel == query.channel)
    monthly: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for row in uow.session.execute(select):
        monthly[row.channel][row.month] = Decimal(row.amount)
    return monthly


def roi(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """Channel ROI over the range: spend (monthly spend pro rata by days, shared out by leads when the query
    narrows a channel), leads, loans disbursed, commission, cost per lead and per funded loan."""
    counted = _leads_per_channel(uow, query, narrowed=True)
    everyone = _leads_per_channel(uow, query, narrowed=False) if query.narrowed_within_channel else counted
    loans = _loans_per(uow, query, "channel")
    monthly = _monthly_spend(uow, query)
    channels = sorted(set(counted) | set(loans) | (set() if query.narrowed_within_channel else set(monthly)))
    rows = []
    for channel in channels:
        spend = m.spend_in_range(monthly.get(channel, {}), query.start, query.end)
        if query.narrowed_within_channel:
            total = everyone.get(channel, 0)
            spend = spend * counted.get(channel, 0) / total if total else Decimal("0")
        loan = loans.get(channel)
        count, principal = (loan.loans, loan.principal) if loan else (0, 0)
        commission = Decimal(str(loan.commission)) if loan else Decimal("0")
        rows.append(
            {
                "channel": channel,
                "spend": m.money(spend),
                "leads": counted.get(channel, 0),
                "loans": count,
                "principal": m.money(principal),
                "commission": m.money(commission),
                "cost_per_lead": m.per(spend, counted.get(channel, 0)),
                "cost_per_loan": m.per(spend, count),
                "commission_per_loan": m.per(commission, count),
                "roi": m.ratio(commission - spend, spend) if spend else None,
            }
        )
    return rows


def approvals(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """Approval rates per channel and product: the firm's risk approvals over its evaluations (on the days of
    the range), and the lenders' approvals over the submissions made on those days."""
    evaluations, submissions = orm.risk_evaluations, orm.lender_submissions
    risk = sa.select(
        evaluations.c.channel,
        evaluations.c.product,
        sa.func.count().label("evaluations"),
        sa.func.count(sa.case((evaluations.c.decision == "approve", 1))).label("approved"),
        sa.func.count(sa.case((evaluations.c.decision == "review", 1))).label("review"),
        sa.func.count(sa.case((evaluations.c.decision == "reject", 1))).label("rejected"),
    ).where(*_in_range(evaluations.c.business_day, query), *lead_conditions(query, table=evaluations))
    lender = sa.select(
        submissions.c.channel,
        submissions.c.product,
        sa.func.count().label("submissions"),
        sa.func.count(sa.case((submissions.c.decision == "approved", 1))).label("approved"),
        sa.func.count(sa.case((submissions.c.decision == "declined", 1))).label("declined"),
    ).where(*_in_range(submissions.c.business_day, query), *lead_conditions(query, table=submissions))
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def group(row: Any) -> dict[str, Any]:
        return groups.setdefault(
            (row.channel, row.product),
            {
                "channel": row.channel,
                "product": row.product,
                "evaluations": 0,
                "risk_approved": 0,
                "risk_review": 0,
                "risk_rejected": 0,
                "lender_submissions": 0,
                "lender_approved": 0,
                "lender_declined": 0,
            },
        )

    for row in uow.session.execute(risk.group_by(evaluations.c.channel, evaluations.c.product)):
        group(row).update(
            evaluations=row.evaluations, risk_approved=row.approved, risk_review=row.review, risk_rejected=row.rejected
        )
    for row in uow.session.execute(lender.group_by(submissions.c.channel, submissions.c.product)):
        group(row).update(
            lender_submissions=row.submissions, lender_approved=row.approved, lender_declined=row.declined
        )
    rows = [groups[key] for key in sorted(groups)]
    for row in rows:
        row["risk_approval_rate"] = m.ratio(row["risk_approved"], row["evaluations"])
        row["lender_approval_rate"] = m.ratio(row["lender_approved"], row["lender_submissions"])
    return rows


def funnel(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """The funnel by stage of the leads created in the range: how many ever entered each stage, how many are
    in it now."""
    cohort = [*_in_range(leads.c.business_day, query), *lead_conditions(query)]
    visits = orm.stage_visits
    total = uow.session.execute(sa.select(sa.func.count()).select_from(leads).where(*cohort)).scalar_one()
    # The cohort first, then its leads' stays (by the primary key's lead_id prefix), not every stay joined.
    reached = dict(
        uow.session.execute(
            sa.select(visits.c.stage, sa.func.count(sa.distinct(visits.c.lead_id)))
            .where(visits.c.lead_id.in_(sa.select(leads.c.lead_id).where(*cohort)))
            .group_by(visits.c.stage)
        ).all()
    )
    stage = sa.func.coalesce(leads.c.stage, "new")
    current = dict(uow.session.execute(sa.select(stage, sa.func.count()).where(*cohort).group_by(stage)).all())
    reached["new"] = total
    stages = sorted(set(reached) | set(current), key=lambda key: (m.STAGE_ORDER.get(key, len(m.STAGES)), key))
    return [
        {
            "stage": key,
            "stage_name": m.STAGE_NAMES.get(key, key),
            "reached": reached.get(key, 0),
            "current": current.get(key, 0),
            "reached_rate": m.ratio(reached.get(key, 0), total),
        }
        for key in stages
    ]


def stage_times(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """Time in stage: the stays that ended on the days of the range, per stage, in hours (median and p90)."""
    visits = orm.stage_visits
    select = sa.select(visits.c.stage, visits.c.entered_at, visits.c.left_at).where(
        *_in_range(visits.c.left_day, query), *lead_conditions(query, table=visits)
    )
    hours: dict[str, list[float]] = defaultdict(list)
    for row in uow.session.execute(select):
        hours[row.stage].append(m.hours_between(row.entered_at, row.left_at))
    stages = sorted(hours, key=lambda key: (m.STAGE_ORDER.get(key, len(m.STAGES)), key))
    return [
        {
            "stage": key,
            "stage_name": m.STAGE_NAMES.get(key, key),
            "stays": len(hours[key]),
            "median_hours": _hours(m.median(hours[key])),
            "p90_hours": _hours(m.percentile(hours[key], 90)),
        }
        for key in stages
    ]


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def leaderboard(uow: UnitOfWork, query: KpiQuery, *, by: str) -> list[dict[str, Any]]:
    """Salespeople (``by="owner"``) or teams (``by="team"``): leads created in the range that they own, how
    many of them were submitted, and the loans disbursed in the range with principal and commission; ranked by
    principal, then loans, then leads."""
    key = leads.c.owner_id if by == "owner" else leads.c.team_id
    cohort = [*_in_range(leads.c.business_day, query), *lead_conditions(query), key.is_not(None)]
    counted = {
        row.key: row
        for row in uow.session.execute(
            sa.select(
                key.label("key"),
                sa.func.count().label("leads"),
                sa.func.count(leads.c.submitted_at).label("submitted"),
            )
            .where(*cohort)
            .group_by(key)
        )
    }
    loans = {k: v for k, v in _loans_per(uow, query, key.name).items() if k is not None}
    names = _names(uow, by=by, ids=set(counted) | set(loans))
    contacts = dict(
        uow.session.execute(
            sa.select(key, sa.func.count())
            .select_from(orm.followups.join(leads, leads.c.lead_id == orm.followups.c.lead_id))
            .where(*cohort)
            .group_by(key)
        ).all()
    )
    to_contract: dict[str, list[float]] = defaultdict(list)
    for member, created, contract in uow.session.execute(
        sa.select(key, leads.c.occurred_at, leads.c.contract_at).where(*cohort, leads.c.contract_at.is_not(None))
    ):
        to_contract[member].append(m.hours_between(created, contract) / 24)
    rows = []
    for member in set(counted) | set(loans):
        lead, loan = counted.get(member), loans.get(member)
        count = lead.leads if lead else 0
        days = to_contract.get(member, [])
        rows.append(
            {
                "id": member,
                "name": names.get(member, member),
                "leads": count,
                "submitted": lead.submitted if lead else 0,
                "loans": loan.loans if loan else 0,
                "principal": m.money(loan.principal if loan else 0),
                "commission": m.money(loan.commission if loan else 0),
                "conversion_rate": m.ratio(loan.loans if loan else 0, count),
                "contacts": contacts.get(member, 0),
                "contacts_per_lead": m.ratio(contacts.get(member, 0), count),
                "median_days_to_contract": _hours(m.median(days)),
                "p90_days_to_contract": _hours(m.percentile(days, 90)),
            }
        )
    rows.sort(key=lambda row: (-row["principal"], -row["loans"], -row["leads"], row["id"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _names(uow: UnitOfWork, *, by: str, ids: Iterable[str]) -> dict[str, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    if by == "owner":
        select = sa.select(orm.staff.c.user_id, orm.staff.c.display_name).where(orm.staff.c.user_id.in_(wanted))
    else:
        select = sa.select(orm.teams.c.team_id, orm.teams.c.name).where(orm.teams.c.team_id.in_(wanted))
    return dict(uow.session.execute(select).all())


def overdue(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """Overdue by vintage: loans disbursed on the days of the range, per disbursement month, product and
    channel; M1+ (more than 30 days past due) and M3+ (more than 90) by count and by outstanding principal."""
    loans = orm.loan_facts
    worst = loans.c.worst_days_past_due

    def bucket(days: int) -> tuple[Any, Any]:
        hit = sa.and_(worst.is_not(None), worst >= days)
        count = sa.func.count(sa.case((hit, 1)))
        principal = sa.func.coalesce(sa.func.sum(sa.case((hit, loans.c.worst_outstanding), else_=0)), 0)
        return count, principal

    m1_count, m1_principal = bucket(m.M1_PLUS_DAYS)
    m3_count, m3_principal = bucket(m.M3_PLUS_DAYS)
    select = (
        sa.select(
            loans.c.vintage,
            loans.c.product,
            loans.c.channel,
            sa.func.count().label("loans"),
            sa.func.coalesce(sa.func.sum(loans.c.principal), 0).label("principal"),
            m1_count.label("m1_loans"),
            m1_principal.label("m1_principal"),
            m3_count.label("m3_loans"),
            m3_principal.label("m3_principal"),
        )
        .where(*_in_range(loans.c.business_day, query), *lead_conditions(query, table=loans))
        .group_by(loans.c.vintage, loans.c.product, loans.c.channel)
        .order_by(loans.c.vintage, loans.c.product, loans.c.channel)
    )
    return [
        {
            "vintage": row.vintage,
            "product": row.product,
            "channel": row.channel,
            "loans": row.loans,
            "principal": m.money(row.principal),
            "m1_loans": row.m1_loans,
            "m1_principal": m.money(row.m1_principal),
            "m3_loans": row.m3_loans,
            "m3_principal": m.money(row.m3_principal),
            "m1_rate_by_count": m.ratio(row.m1_loans, row.loans),
            "m1_rate_by_principal": m.ratio(row.m1_principal, row.principal),
            "m3_rate_by_count": m.ratio(row.m3_loans, row.loans),
            "m3_rate_by_principal": m.ratio(row.m3_principal, row.principal),
        }
        for row in uow.session.execute(select)
    ]


TREND_FIELDS = (
    "leads",
    "evaluations",
    "risk_approved",
    "lender_submissions",
    "lender_approved",
    "loans",
    "principal",
)


def trends(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """Weekly trends (weeks start on Monday): each count on the business day of its own event."""
    evaluations, submissions, loans = orm.risk_evaluations, orm.lender_submissions, orm.loan_facts
    weeks: dict[date, dict[str, Any]] = {}

    def add(field: str, day_column: Any, value: Any = None, *where: Any) -> None:
        amount = value if value is not None else sa.func.count()
        table = day_column.table
        select = (
            sa.select(day_column.label("day"), amount.label("value"))
            .where(*_in_range(day_column, query), *lead_conditions(query, table=table), *where)
            .group_by(day_column)
        )
        for row in uow.session.execute(select):
            week = weeks.setdefault(m.week_start(row.day), dict.fromkeys(TREND_FIELDS, 0))
            week[field] += row.value

    add("leads", leads.c.business_day)
    add("evaluations", evaluations.c.business_day)
    add("risk_approved", evaluations.c.business_day, None, evaluations.c.decision == "approve")
    add("lender_submissions", submissions.c.business_day)
    add("lender_approved", submissions.c.decided_day, None, submissions.c.decision == "approved")
    add("loans", loans.c.business_day)
    add("principal", loans.c.business_day, sa.func.coalesce(sa.func.sum(loans.c.principal), 0))
    return [{"week": week, **weeks[week], "principal": m.money(weeks[week]["principal"])} for week in sorted(weeks)]


def sla(uow: UnitOfWork, query: KpiQuery) -> list[dict[str, Any]]:
    """SLA breaches per task kind and team: of the to-dos created on the days of the range, how many went
    overdue (``workflow.task.overdue``)."""
    tasks = orm.tasks
    select = (
        sa.select(
            tasks.c.kind,
            leads.c.team_id,
            sa.func.count().label("tasks"),
            sa.func.count(tasks.c.overdue_at).label("breached"),
            sa.func.count(tasks.c.completed_at).label("completed"),
        )
        .select_from(tasks.join(leads, leads.c.lead_id == tasks.c.lead_id))
        .where(*_in_range(tasks.c.business_day, query), *lead_conditions(query))
        .group_by(tasks.c.kind, leads.c.team_id)
    )
    found = list(uow.session.execute(select))
    names = _names(uow, by="team", ids={row.team_id for row in found if row.team_id})
    rows = [
        {
            "kind": row.kind,
            "kind_name": m.TASK_KINDS.get(row.kind, row.kind),
            "team_id": row.team_id,
            "team_name": names.get(row.team_id, row.team_id) if row.team_id else "未分组",
            "tasks": row.tasks,
            "completed": row.completed,
            "breached": row.breached,
            "breach_rate": m.ratio(row.breached, row.tasks),
        }
        for row in found
    ]
    return sorted(rows, key=lambda row: (row["kind"], row["team_name"]))
