"""Request and response schemas of workflow's API."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import fields, validate

from loanbridge.common.schemas import BaseSchema, CursorPageSchema

STAGE = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="阶段编码格式不正确")
PRODUCT = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="产品编码格式不正确")
REASON = validate.Length(max=200)
MAX_AMOUNT = Decimal("100000000")


class ProcessCreateSchema(BaseSchema):
    product = fields.String(required=True, validate=PRODUCT)
    definition = fields.Dict(required=True)


class ProcessUpdateSchema(BaseSchema):
    definition = fields.Dict(required=True)


class ProcessSchema(BaseSchema):
    product = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["draft", "published", "retired"]})
    definition = fields.Dict(required=True)
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    published_by = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)


class ProcessListQuerySchema(BaseSchema):
    product = fields.String(validate=PRODUCT)


class ValidationResultSchema(BaseSchema):
    valid = fields.Boolean(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


class CaseSchema(BaseSchema):
    id = fields.String(required=True)
    customer_id = fields.String(required=True)
    product = fields.String(required=True)
    amount = fields.Float(required=True)
    term_months = fields.Integer(required=True)
    channel = fields.String(required=True)
    city = fields.String(required=True)
    partner_id = fields.String(allow_none=True)
    submitted_by = fields.String(required=True)
    process_version = fields.Integer(required=True)
    stage = fields.String(required=True)
    stage_entered_at = fields.DateTime(required=True)
    assignee_id = fields.String(allow_none=True)
    team_id = fields.String(allow_none=True)
    documents = fields.List(fields.String(), required=True)
    lender_decision = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    closed_at = fields.DateTime(allow_none=True)


class PoolCaseSchema(CaseSchema):
    pool_reason = fields.String(allow_none=True)
    released_by = fields.String(allow_none=True)
    released_at = fields.DateTime(allow_none=True)


class CasePageSchema(BaseSchema):
    items = fields.List(fields.Nested(CaseSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class PoolPageSchema(BaseSchema):
    items = fields.List(fields.Nested(PoolCaseSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class CaseListQuerySchema(CursorPageSchema):
    stage = fields.String(validate=STAGE)
    mine = fields.Boolean()
    assignee_id = fields.String()
    team_id = fields.String()
    product = fields.String(validate=PRODUCT)
    city = fields.String()
    customer_id = fields.String()


class PoolQuerySchema(CursorPageSchema):
    city = fields.String()
    product = fields.String(validate=PRODUCT)


class HistoryEntrySchema(BaseSchema):
    at = fields.DateTime(required=True)
    kind = fields.String(required=True)
    from_ = fields.String(allow_none=True, attribute="from", data_key="from")
    to = fields.String(allow_none=True)
    actor = fields.String(required=True)
    reason = fields.String(allow_none=True)
    details = fields.Dict()


class HistorySchema(BaseSchema):
    items = fields.List(fields.Nested(HistoryEntrySchema), required=True)


class TransitionSchema(BaseSchema):
    to = fields.String(required=True, validate=STAGE)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)


class ReassignSchema(BaseSchema):
    assignee_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)


class ReleaseSchema(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class LenderSubmissionCreateSchema(BaseSchema):
    lender = fields.String(required=True, validate=validate.Length(min=1, max=100))
    lender_product = fields.String(required=True, validate=validate.Length(min=1, max=100))
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT))


class LenderDecisionSchema(BaseSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approved", "declined"]))
    approved_amount = fields.Decimal(
        load_default=None, allow_none=True, places=2, validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT)
    )
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)
    next_stage = fields.String(
        load_default="lender_declined", validate=validate.OneOf(["lender_declined", "plan_matching"])
    )


class LenderSubmissionSchema(BaseSchema):
    id = fields.String(required=True)
    case_id = fields.String(required=True)
    lender = fields.String(required=True)
    lender_product = fields.String(required=True)
    amount = fields.Float(required=True)
    decision = fields.String(allow_none=True)
    approved_amount = fields.Float(allow_none=True)
    reason = fields.String(allow_none=True)
    submitted_by = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    decided_at = fields.DateTime(allow_none=True)


class TaskSchema(BaseSchema):
    id = fields.String(required=True)
    case_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    assignee_id = fields.String(allow_none=True)
    assignee_role = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["open", "done", "cancelled"]})
    due_at = fields.DateTime(allow_none=True)
    remind_at = fields.DateTime(allow_none=True, metadata={"description": "when to remind (the SLA's remind_before)"})
    overdue = fields.Boolean(required=True)
    escalated_to = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(allow_none=True)


class TaskListSchema(BaseSchema):
    items = fields.List(fields.Nested(TaskSchema), required=True)


class TaskQuerySchema(BaseSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "done", "cancelled"]))
    overdue = fields.Boolean(load_default=None, allow_none=True)


class BoardQuerySchema(BaseSchema):
    team_id = fields.String()


class BoardStageSchema(BaseSchema):
    stage = fields.String(required=True)
    open = fields.Integer(required=True)
    sla_breached = fields.Integer(required=True, metadata={"description": "cases past their stage's SLA"})
    overdue = fields.Integer(required=True, metadata={"description": "cases with an overdue task"})
    by_assignee = fields.Dict(keys=fields.String(), values=fields.Integer())


class BoardSchema(BaseSchema):
    team_id = fields.String(allow_none=True)
    stages = fields.List(fields.Nested(BoardStageSchema), required=True)


class RuleConditionSchema(BaseSchema):
    cities = fields.List(fields.String(validate=validate.Length(min=1, max=32)))
    products = fields.List(fields.String(validate=PRODUCT))
    channels = fields.List(fields.String(validate=validate.Length(min=1, max=64)))
    amount_min = fields.Float(allow_none=True)
    amount_max = fields.Float(allow_none=True)
    expression = fields.String(allow_none=True, validate=validate.Length(max=500))


class RuleWriteSchema(BaseSchema):
    position = fields.Integer(required=True, validate=validate.Range(min=0, max=100000))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    active = fields.Boolean(load_default=True)
    condition = fields.Nested(RuleConditionSchema, load_default=dict)
    strategy = fields.String(required=True, validate=validate.OneOf(["user", "round_robin", "least_loaded"]))
    user_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    team_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=36))


class RuleSchema(RuleWriteSchema):
    id = fields.String(required=True)
    condition = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)


class RuleListSchema(BaseSchema):
    items = fields.List(fields.Nested(RuleSchema), required=True)


class CapSchema(BaseSchema):
    cap = fields.Integer(required=True, allow_none=True, validate=validate.Range(min=0, max=100000))


class CapAnswerSchema(BaseSchema):
    user_id = fields.String(required=True)
    cap = fields.Integer(allow_none=True)


class ScheduleLineSchema(BaseSchema):
    due_date = fields.Date(required=True)
    principal = fields.Decimal(required=True, places=2, validate=validate.Range(min=Decimal("0")))
    interest = fields.Decimal(required=True, places=2, validate=validate.Range(min=Decimal("0")))


class LoanCreateSchema(BaseSchema):
    lender = fields.String(required=True, validate=validate.Length(min=1, max=100))
    lender_product = fields.String(required=True, validate=validate.Length(min=1, max=100))
    principal = fields.Decimal(required=True, places=2, validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT))
    annual_rate = fields.Decimal(
        required=True,
        validate=validate.Range(min=Decimal("0"), max=Decimal("0.999999"), error="年利率应为小数,如 0.12"),
    )
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    commission = fields.Decimal(load_default=Decimal("0"), places=2, validate=validate.Range(min=Decimal("0")))
    method = fields.String(required=True, validate=validate.OneOf(["equal_installment", "equal_principal", "explicit"]))
    first_due_date = fields.Date(load_default=None, allow_none=True)
    disbursed_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    schedule = fields.List(fields.Nested(ScheduleLineSchema), load_default=None, allow_none=True)


class InstallmentSchema(BaseSchema):
    installment = fields.Integer(required=True)
    due_date = fields.Date(required=True)
    principal = fields.Float(required=True)
    interest = fields.Float(required=True)
    amount = fields.Float(required=True)
    paid_amount = fields.Float(required=True)
    paid_at = fields.DateTime(allow_none=True)


class LoanSchema(BaseSchema):
    id = fields.String(required=True)
    case_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    lender = fields.String(required=True)
    lender_product = fields.String(required=True)
    principal = fields.Float(required=True)
    annual_rate = fields.Float(required=True)
    term_months = fields.Integer(required=True)
    commission = fields.Float(required=True)
    method = fields.String(required=True)
    disbursed_at = fields.DateTime(required=True)
    settled_at = fields.DateTime(allow_none=True)
    outstanding_principal = fields.Float(required=True)
    schedule = fields.List(fields.Nested(InstallmentSchema), required=True)


class RepaymentCreateSchema(BaseSchema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    installment = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT))
    paid_at = fields.AwareDateTime(required=True)


class RepaymentSchema(BaseSchema):
    id = fields.String(required=True)
    loan_id = fields.String(required=True)
    reference = fields.String(required=True)
    installment = fields.Integer(required=True)
    amount = fields.Float(required=True)
    paid_at = fields.DateTime(required=True)


class OverrideWriteSchema(BaseSchema):
    working = fields.Boolean(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=100))


class OverrideSchema(BaseSchema):
    day = fields.Date(required=True)
    working = fields.Boolean(required=True)
    note = fields.String(required=True)


class OverrideListSchema(BaseSchema):
    items = fields.List(fields.Nested(OverrideSchema), required=True)


class OverrideQuerySchema(BaseSchema):
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=2000, max=2100))


class WorkingDaySchema(BaseSchema):
    day = fields.Date(required=True)
    working = fields.Boolean(required=True)
