"""Request and response schemas of risk's API (field names as ARCHITECTURE.md §4 gives them)."""

from __future__ import annotations

from marshmallow import fields, validate

from loanbridge.common.schemas import MAX_INTEGER, BaseSchema, CursorPageSchema

CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,31}$", error="只能包含小写字母、数字和下划线,以字母开头")
DECISION = validate.OneOf(["approve", "review", "reject"], error="必须是 approve、review 或 reject")
Note = fields.String(load_default=None, validate=validate.Length(max=500))
VERSION = validate.Range(min=1, max=MAX_INTEGER)


class DraftSchema(BaseSchema):
    model = fields.Dict(required=True, metadata={"description": "the rule set as a JDM decision model"})
    note = Note


class NoteSchema(BaseSchema):
    note = Note


class RollbackSchema(BaseSchema):
    to_version = fields.Integer(required=True, strict=True, validate=VERSION)
    note = fields.String(required=True, validate=validate.Length(min=1, max=500, error="请填写回滚原因"))


class StepSchema(BaseSchema):
    action = fields.String()
    actor = fields.String()
    note = fields.String(allow_none=True)
    at = fields.DateTime()


class RulesetSchema(BaseSchema):
    product = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"description": "draft, approved, published, retired or rolled_back"})
    engine_version = fields.String()
    note = fields.String(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()
    approved_by = fields.String(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    published_by = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    model = fields.Dict()
    steps = fields.List(fields.Nested(StepSchema))
    diff = fields.List(fields.Dict())


class VersionQuerySchema(BaseSchema):
    version = fields.Integer(load_default=None, validate=VERSION)


class HitSchema(BaseSchema):
    rule_id = fields.String()
    table = fields.String()
    decision = fields.String(allow_none=True)
    reason = fields.String()
    route_to = fields.String(allow_none=True)
    flag = fields.String(allow_none=True)
    inputs = fields.Dict()


class AssessmentSchema(BaseSchema):
    decision = fields.String()
    score = fields.Float(allow_none=True)
    grade = fields.String(allow_none=True)
    route_to = fields.String(allow_none=True)
    flags = fields.List(fields.String())
    hits = fields.List(fields.Nested(HitSchema))
    missing_documents = fields.List(fields.String())
    missing_fields = fields.List(fields.String())
    reasons = fields.List(fields.String())
    supplement_required = fields.Boolean()
    ruleset_version = fields.Integer(allow_none=True)


class EvaluateSchema(BaseSchema):
    product = fields.String(required=True, validate=CODE)
    features = fields.Dict(keys=fields.String(), required=True)
    documents = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=None)


class SimulateSchema(BaseSchema):
    version = fields.Integer(required=True, strict=True, validate=VERSION)
    last = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=100_000))
    since = fields.DateTime(load_default=None, data_key="from")
    until = fields.DateTime(load_default=None, data_key="to")


class MixSchema(BaseSchema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    rates = fields.Dict(keys=fields.String(), values=fields.Float())


class SimulationSchema(BaseSchema):
    product = fields.String()
    version = fields.Integer()
    evaluations = fields.Integer()
    before = fields.Nested(MixSchema)
    after = fields.Nested(MixSchema)
    changed_count = fields.Integer()
    changed = fields.List(fields.Dict())


class EvaluationListQuerySchema(CursorPageSchema):
    lead_id = fields.String(load_default=None)
    product = fields.String(load_default=None)
    decision = fields.String(load_default=None, validate=DECISION)
    flag = fields.String(load_default=None)
    since = fields.DateTime(load_default=None, data_key="from")
    until = fields.DateTime(load_default=None, data_key="to")


class EvaluationSchema(BaseSchema):
    id = fields.String()
    lead_id = fields.String()
    customer_id = fields.String()
    product = fields.String()
    ruleset_version = fields.Integer(allow_none=True)
    engine_version = fields.String()
    decision = fields.String()
    score = fields.Float(allow_none=True)
    grade = fields.String(allow_none=True)
    route_to = fields.String(allow_none=True)
    flags = fields.List(fields.String())
    hits = fields.List(fields.Nested(HitSchema))
    scorecard = fields.List(fields.Dict())
    missing_documents = fields.List(fields.String())
    missing_fields = fields.List(fields.String())
    evaluated_at = fields.DateTime()
    inputs = fields.Dict()
    checklist = fields.List(fields.Dict())


class EvaluationPageSchema(BaseSchema):
    items = fields.List(fields.Nested(EvaluationSchema))
    next_cursor = fields.String(allow_none=True)


class GradeSchema(BaseSchema):
    customer_id = fields.String()
    grade = fields.String()
    graded = fields.Boolean(metadata={"description": "false: never graded, the configured default grade"})
    reasons = fields.List(fields.String())
    graded_at = fields.DateTime(allow_none=True)


class TermsSchema(BaseSchema):
    products = fields.List(fields.String(validate=CODE), load_default=list)
    min_amount = fields.Float(load_default=0, validate=validate.Range(min=0))
    max_amount = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    min_term = fields.Integer(load_default=1, validate=validate.Range(min=1, max=360))
    max_term = fields.Integer(required=True, validate=validate.Range(min=1, max=360))
    rate_min = fields.Float(required=True, validate=validate.Range(min=0, max=1, error="年利率为小数,如 0.06"))
    rate_max = fields.Float(required=True, validate=validate.Range(min=0, max=1, error="年利率为小数,如 0.06"))
    cities = fields.List(fields.String(), load_default=list)


class CriterionSchema(BaseSchema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    field = fields.String(required=True)
    expression = fields.String(required=True, validate=validate.Length(min=1, max=500))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class LenderProductCreateSchema(BaseSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    lender = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    terms = fields.Nested(TermsSchema, required=True)
    criteria = fields.List(fields.Nested(CriterionSchema), load_default=list)
    note = Note


class LenderProductUpdateSchema(BaseSchema):
    terms = fields.Nested(TermsSchema, required=True)
    criteria = fields.List(fields.Nested(CriterionSchema), load_default=list)
    active = fields.Boolean(load_default=True)
    note = Note


class LenderProductSchema(BaseSchema):
    id = fields.String()
    code = fields.String()
    lender = fields.String()
    name = fields.String()
    version = fields.Integer()
    active = fields.Boolean()
    terms = fields.Dict()
    criteria = fields.List(fields.Dict())
    updated_by = fields.String()
    updated_at = fields.DateTime()


class MatchSchema(BaseSchema):
    product = fields.String(required=True, validate=CODE)
    amount = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    city = fields.String(load_default=None)
    features = fields.Dict(keys=fields.String(), load_default=dict)


class MatchAnswerSchema(BaseSchema):
    eligible = fields.List(fields.Dict())
    ineligible = fields.List(fields.Dict())
