"""Request and response schemas of reporting's KPI API."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from loanbridge.common.schemas import BUSINESS_DAY, BaseSchema

KPI_NAMES = (
    "conversion",
    "roi",
    "approvals",
    "funnel",
    "stage_times",
    "leaderboard_owners",
    "leaderboard_teams",
    "overdue",
    "trends",
    "sla",
)


class KpiQuerySchema(BaseSchema):
    from_ = fields.Date(
        data_key="from", validate=BUSINESS_DAY, metadata={"description": "first business day (default: 30 days ago)"}
    )
    to = fields.Date(validate=BUSINESS_DAY, metadata={"description": "last business day, inclusive (default: today)"})
    channel = fields.String()
    product = fields.String()
    city = fields.String()
    team_id = fields.String()
    owner_id = fields.String(metadata={"description": "the salesperson (user_id) who owns the leads"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("开始日期不能晚于结束日期", field_name="from")


class LeaderboardQuerySchema(KpiQuerySchema):
    by = fields.String(
        load_default="owner",
        validate=validate.OneOf(("owner", "team"), error="只能按 owner(销售)或 team(团队)排名"),
        metadata={"description": "rank salespeople (owner, the default) or teams (team)"},
    )


class ExportQuerySchema(KpiQuerySchema):
    kpi = fields.String(
        required=True,
        validate=validate.OneOf(KPI_NAMES, error="未知的指标表"),
        metadata={"description": f"the KPI table: {', '.join(KPI_NAMES)}"},
    )


def rate() -> fields.Float:
    """A rate or an average: null when there is nothing to divide by."""
    return fields.Float(allow_none=True, required=True)


class KpiRowSchema(BaseSchema):
    channel = fields.String(required=True)
    product = fields.String(required=True)
    leads = fields.Integer(required=True)
    amount = fields.Float(required=True, metadata={"description": "sum of the leads' requested amounts (yuan)"})
    submitted = fields.Integer(required=True)
    risk_approved = fields.Integer(required=True)
    lender_submitted = fields.Integer(required=True)
    lender_approved = fields.Integer(required=True)
    disbursed = fields.Integer(required=True)
    conversion_rate = rate()
    recycled = fields.Integer(required=True, metadata={"description": "leads that went to the public pool"})
    recycle_rate = rate()


class RoiRowSchema(BaseSchema):
    channel = fields.String(required=True)
    spend = fields.Float(required=True)
    leads = fields.Integer(required=True)
    loans = fields.Integer(required=True)
    principal = fields.Float(required=True)
    commission = fields.Float(required=True)
    cost_per_lead = rate()
    cost_per_loan = rate()
    commission_per_loan = rate()
    roi = rate()


class ApprovalRowSchema(BaseSchema):
    channel = fields.String(required=True)
    product = fields.String(required=True)
    evaluations = fields.Integer(required=True)
    risk_approved = fields.Integer(required=True)
    risk_review = fields.Integer(required=True)
    risk_rejected = fields.Integer(required=True)
    risk_approval_rate = rate()
    lender_submissions = fields.Integer(required=True)
    lender_approved = fields.Integer(required=True)
    lender_declined = fields.Integer(required=True)
    lender_approval_rate = rate()


class FunnelRowSchema(BaseSchema):
    stage = fields.String(required=True)
    stage_name = fields.String(required=True)
    reached = fields.Integer(required=True)
    current = fields.Integer(required=True)
    reached_rate = rate()


class StageTimeRowSchema(BaseSchema):
    stage = fields.String(required=True)
    stage_name = fields.String(required=True)
    stays = fields.Integer(required=True)
    median_hours = rate()
    p90_hours = rate()


class LeaderboardRowSchema(BaseSchema):
    rank = fields.Integer(required=True)
    id = fields.String(required=True)
    name = fields.String(required=True)
    leads = fields.Integer(required=True)
    submitted = fields.Integer(required=True)
    loans = fields.Integer(required=True)
    principal = fields.Float(required=True)
    commission = fields.Float(required=True)
    conversion_rate = rate()
    contacts = fields.Integer(required=True, metadata={"description": "follow-ups logged on these leads"})
    contacts_per_lead = rate()
    median_days_to_contract = rate()
    p90_days_to_contract = rate()


class SlaRowSchema(BaseSchema):
    kind = fields.String(required=True)
    kind_name = fields.String(required=True)
    team_id = fields.String(allow_none=True, required=True)
    team_name = fields.String(required=True)
    tasks = fields.Integer(required=True)
    completed = fields.Integer(required=True)
    breached = fields.Integer(required=True)
    breach_rate = rate()


class OverdueRowSchema(BaseSchema):
    vintage = fields.String(required=True, metadata={"description": "disbursement month, YYYY-MM"})
    product = fields.String(required=True)
    channel = fields.String(required=True)
    loans = fields.Integer(required=True)
    principal = fields.Float(required=True)
    m1_loans = fields.Integer(required=True)
    m1_principal = fields.Float(required=True)
    m3_loans = fields.Integer(required=True)
    m3_principal = fields.Float(required=True)
    m1_rate_by_count = rate()
    m1_rate_by_principal = rate()
    m3_rate_by_count = rate()
    m3_rate_by_principal = rate()


class TrendRowSchema(BaseSchema):
    week = fields.Date(required=True, metadata={"description": "the Monday of the week"})
    leads = fields.Integer(required=True)
    evaluations = fields.Integer(required=True)
    risk_approved = fields.Integer(required=True)
    lender_submissions = fields.Integer(required=True)
    lender_approved = fields.Integer(required=True)
    loans = fields.Integer(required=True)
    principal = fields.Float(required=True)


def answer_schema(row: type[BaseSchema], name: str) -> type[BaseSchema]:
    """``{"from", "to", "rows": [row]}``, the shape every KPI answers."""
    return type(
        name,
        (BaseSchema,),
        {
            "from_": fields.Date(data_key="from", required=True),
            "to": fields.Date(required=True),
            "rows": fields.List(fields.Nested(row), required=True),
        },
    )


KpiAnswerSchema = answer_schema(KpiRowSchema, "KpiAnswerSchema")
RoiAnswerSchema = answer_schema(RoiRowSchema, "RoiAnswerSchema")
ApprovalAnswerSchema = answer_schema(ApprovalRowSchema, "ApprovalAnswerSchema")
FunnelAnswerSchema = answer_schema(FunnelRowSchema, "FunnelAnswerSchema")
StageTimeAnswerSchema = answer_schema(StageTimeRowSchema, "StageTimeAnswerSchema")
LeaderboardAnswerSchema = answer_schema(LeaderboardRowSchema, "LeaderboardAnswerSchema")
OverdueAnswerSchema = answer_schema(OverdueRowSchema, "OverdueAnswerSchema")
TrendAnswerSchema = answer_schema(TrendRowSchema, "TrendAnswerSchema")
SlaAnswerSchema = answer_schema(SlaRowSchema, "SlaAnswerSchema")
