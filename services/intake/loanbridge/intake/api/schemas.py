"""Request and response schemas of intake's API. Field names are the ones clients rely on (ARCHITECTURE.md §4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from loanbridge.common.features import FEATURES
from loanbridge.common.schemas import BUSINESS_DAY, BaseSchema, IdNumberField, MobileField

MAX_AMOUNT = Decimal("100000000")


class LeadCreateSchema(BaseSchema):
    name = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=50, error="姓名长度应为 1-50 个字符"),
            # A name of blanks alone would be stored as a customer with an empty masked name.
            validate.Regexp(r"\s*\S", error="姓名不能为空"),
        ],
    )
    mobile = MobileField(required=True)
    id_number = IdNumberField()
    city = fields.String(required=True, validate=validate.Length(min=1, max=32))
    product = fields.String(required=True, validate=validate.Length(min=1, max=32))
    amount = fields.Decimal(
        required=True,
        places=2,
        validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT, error="贷款金额应在 0.01 元至 1 亿元之间"),
    )
    term_months = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=360, error="期限应为 1-360 个月")
    )
    purpose = fields.String(validate=validate.Length(max=200))
    channel = fields.String(validate=validate.Length(min=1, max=64))
    external_ref = fields.String(validate=validate.Length(min=1, max=64, error="长度应为 1-64 个字符"))
    form = fields.Dict(keys=fields.String(), load_default=dict)

    @validates("form")
    def _features_are_scalars(self, form: dict[str, Any], **_: Any) -> None:
        wrong = {
            name: ["应为数字、布尔值或文本"]
            for name, value in form.items()
            if name in FEATURES and not isinstance(value, str | int | float | bool | None)
        }
        if wrong:
            raise ValidationError(wrong)


class LeadSchema(BaseSchema):
    id = fields.String(required=True)
    customer_id = fields.String(required=True)
    duplicate_outcome = fields.String(
        required=True,
        metadata={"enum": ["new_customer", "pool_customer", "own_customer", "owned_by_other"]},
    )
    name = fields.String(metadata={"description": "masked"})
    mobile = fields.String(metadata={"description": "masked"})
    product = fields.String(required=True)
    amount = fields.Float(required=True)
    term_months = fields.Integer(required=True)
    purpose = fields.String(allow_none=True)
    city = fields.String(required=True)
    channel = fields.String(required=True)
    external_ref = fields.String(allow_none=True)
    created_at = fields.String(required=True)


class ChannelCreateSchema(BaseSchema):
    code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[a-z0-9_]{2,64}$", error="编码为 2-64 位小写字母、数字或下划线"),
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(
        load_default="partner",
        validate=validate.OneOf(["advertising", "offline", "referral", "partner"], error="渠道类型无效"),
    )
    partner_id = fields.String(allow_none=True, load_default=None)


class ChannelSchema(BaseSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    partner_id = fields.String(allow_none=True)
    active = fields.Boolean(required=True)


class PartnerQuotaSchema(BaseSchema):
    per_minute = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=100000, error="应为 1-100000")
    )


class PartnerQuotaAnswerSchema(BaseSchema):
    partner_id = fields.String(required=True)
    per_minute = fields.Integer(required=True)


class ListQuerySchema(BaseSchema):
    """Filters and cursor pagination shared by the lists."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String()
    product = fields.String()
    channel = fields.String()
    stage = fields.String()
    city = fields.String()
    owner_id = fields.String()
    from_ = fields.Date(data_key="from", validate=BUSINESS_DAY)
    to = fields.Date(validate=BUSINESS_DAY)


class CustomerListQuerySchema(ListQuerySchema):
    grade = fields.String(validate=validate.OneOf(["A", "B", "C"]))


class CustomerSummarySchema(BaseSchema):
    id = fields.String(required=True)
    name = fields.String(required=True, metadata={"description": "masked"})
    city = fields.String(required=True)
    channel = fields.String(required=True)
    owner_id = fields.String(allow_none=True)
    grade = fields.String(allow_none=True)
    erased = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class CustomerPageSchema(BaseSchema):
    items = fields.List(fields.Nested(CustomerSummarySchema), required=True)
    next_cursor = fields.String(allow_none=True)


class LeadPageSchema(BaseSchema):
    items = fields.List(fields.Nested(LeadSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class DocumentSchema(BaseSchema):
    id = fields.String(required=True)
    lead_id = fields.String(required=True)
    doc_type = fields.String(required=True)
    content_type = fields.String(required=True)
    size_bytes = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    uploaded_by = fields.String(required=True)
    uploaded_at = fields.DateTime(required=True)


class FollowupSchema(BaseSchema):
    id = fields.String(required=True)
    lead_id = fields.String(required=True)
    user_id = fields.String(required=True)
    method = fields.String(required=True)
    outcome = fields.String(required=True)
    intent_level = fields.String(allow_none=True)
    note = fields.String(allow_none=True, metadata={"description": "*** unless unmasked"})
    contacted_at = fields.DateTime(required=True)
    next_followup_at = fields.DateTime(allow_none=True)


class Lead360Schema(BaseSchema):
    id = fields.String(required=True)
    product = fields.String(required=True)
    amount = fields.Float(required=True)
    term_months = fields.Integer(required=True)
    purpose = fields.String(allow_none=True)
    city = fields.String(required=True)
    channel = fields.String(required=True)
    partner_id = fields.String(allow_none=True)
    submitted_by = fields.String(required=True)
    duplicate_outcome = fields.String(required=True)
    form_version = fields.Integer(allow_none=True)
    form = fields.Dict(required=True, metadata={"description": "fields marked x-pii read *** unless unmasked"})
    stage = fields.String(allow_none=True)
    assignee_id = fields.String(allow_none=True)
    intent_level = fields.String(allow_none=True)
    evaluation = fields.Dict(allow_none=True)
    created_at = fields.DateTime(required=True)
    submitted_at = fields.DateTime(allow_none=True)
    documents = fields.List(fields.Nested(DocumentSchema), required=True)
    followups = fields.List(fields.Nested(FollowupSchema), required=True)


class ConsentInfoSchema(BaseSchema):
    given_at = fields.DateTime(required=True)
    channel = fields.String(required=True)


class Customer360Schema(BaseSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    mobile = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    city = fields.String(required=True)
    channel = fields.String(required=True)
    gender = fields.String(allow_none=True)
    age = fields.Integer(allow_none=True)
    owner_id = fields.String(allow_none=True)
    owner_team_id = fields.String(allow_none=True)
    grade = fields.String(allow_none=True)
    consent = fields.Nested(ConsentInfoSchema, allow_none=True)
    erased = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    leads = fields.List(fields.Nested(Lead360Schema), required=True)


class UnmaskQuerySchema(BaseSchema):
    unmask = fields.Boolean(load_default=False, metadata={"description": "personal data in clear (audited)"})


class ConsentSchema(BaseSchema):
    channel = fields.String(
        required=True, validate=validate.OneOf(["paper", "app", "web", "phone", "wechat", "sms", "partner"])
    )
    purpose = fields.String(load_default="loan_facilitation", validate=validate.Length(min=1, max=64))
    given_at = fields.DateTime()


class ConsentAnswerSchema(BaseSchema):
    customer_id = fields.String(required=True)
    given_at = fields.DateTime(required=True)
    channel = fields.String(required=True)
    purpose = fields.String(required=True)


class ErasureSchema(BaseSchema):
    customer_id = fields.String(required=True)
    erased_at = fields.DateTime(required=True)


class ProductCreateSchema(BaseSchema):
    code = fields.String(
        required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,31}$", error="编码为 2-32 位小写字母、数字或下划线")
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ProductSchema(BaseSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    active = fields.Boolean(required=True)
    published_version = fields.Integer(allow_none=True)


class FormDraftSchema(BaseSchema):
    definition = fields.Dict(
        required=True, metadata={"description": "JSON Schema 2020-12 with x-pii, x-risk-feature, x-required-documents"}
    )
    note = fields.String(validate=validate.Length(max=200))


class FormSchema(BaseSchema):
    product = fields.String(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["draft", "published", "retired"]})
    definition = fields.Dict(required=True)
    note = fields.String(allow_none=True)
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    published_by = fields.String(allow_none=True)
    published_at = fields.DateTime(allow_none=True)


class SubmissionSchema(BaseSchema):
    lead_id = fields.String(required=True)
    customer_id = fields.String(required=True)
    product = fields.String(required=True)
    form_version = fields.Integer(allow_none=True)
    amount = fields.Float(required=True)
    term_months = fields.Integer(required=True)
    channel = fields.String(required=True)
    city = fields.String(required=True)
    features = fields.Dict(required=True)
    documents = fields.List(fields.String(), required=True)
    required_documents = fields.List(fields.String(), required=True)
    missing_fields = fields.List(fields.String(), required=True)
    submitted_at = fields.DateTime(required=True)


class FollowupCreateSchema(BaseSchema):
    method = fields.String(required=True, validate=validate.OneOf(["call", "visit", "wechat", "sms"]))
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(
            ["reached", "no_answer", "interested", "not_interested", "materials_pending", "appointment", "other"]
        ),
    )
    intent_level = fields.String(allow_none=True, validate=validate.OneOf(["A", "B", "C", "D"]))
    note = fields.String(allow_none=True, validate=validate.Length(max=500))
    contacted_at = fields.DateTime()
    next_followup_at = fields.DateTime(allow_none=True)


class BlacklistCreateSchema(BaseSchema):
    id_number = IdNumberField()
    mobile = MobileField()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class BlacklistEntrySchema(BaseSchema):
    id = fields.String(required=True)
    masked = fields.String(required=True)
    reason = fields.String(required=True)
    added_by = fields.String(required=True)
    added_at = fields.DateTime(required=True)


class SpendSchema(BaseSchema):
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=0, max=MAX_AMOUNT))


class SpendAnswerSchema(BaseSchema):
    channel = fields.String(required=True)
    month = fields.String(required=True)
    amount = fields.Float(required=True)
    recorded_by = fields.String(required=True)


class OptOutSchema(BaseSchema):
    customer_id = fields.String(required=True)
    opt_out = fields.Boolean(required=True)


class CustomerContactsSchema(BaseSchema):
    customer_id = fields.String(required=True)
    mobile = fields.String(allow_none=True)
    opt_out = fields.Boolean(required=True)


class ImportSchema(BaseSchema):
    id = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={"enum": ["queued", "dry_run", "ready", "committing", "committed", "failed", "expired"]},
    )
    rows_total = fields.Integer(required=True)
    rows_new = fields.Integer(required=True)
    rows_linked = fields.Integer(required=True)
    rows_rejected = fields.Integer(required=True)
    rows_done = fields.Integer(required=True)
    progress = fields.Float(required=True)
    error = fields.String(allow_none=True)
    created_by = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
