"""Request and response schemas of intake's API. Field names are the ones clients rely on (ARCHITECTURE.md §4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates

from loanbridge.common.features import FEATURES
from loanbridge.common.schemas import BaseSchema, IdNumberField, MobileField

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
