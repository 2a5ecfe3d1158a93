"""The base marshmallow schema: zh-CN validation messages, unknown fields refused, and the error shape."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from loanbridge.common.errors import InvalidInput
from loanbridge.common.pii.validators import normalise_id_number, normalise_mobile

# The largest integer an id or a version may be (a signed 32-bit column): past it a database refuses or overflows.
MAX_INTEGER = 2**31 - 1
# The days a filter may name. Days become business-day bounds (a day's start, the next day's start), and a day at
# the ends of the calendar has none (9999-12-31 has no next day): a filter takes the days a loan file can be about.
BUSINESS_DAY = validate.Range(
    min=date(1900, 1, 1), max=date(9999, 12, 30), error="日期须在 1900-01-01 与 9999-12-30 之间"
)

ZH_FIELD_MESSAGES: dict[str, str] = {
    "required": "此字段为必填项",
    "null": "此字段不能为空",
    "validator_failed": "取值无效",
    "invalid": "格式不正确",
    "type": "类型不正确",
    "invalid_utf8": "不是有效的 UTF-8 文本",
    "too_large": "数值过大",
    "special": "不是有效的数字",
    "invalid_uuid": "不是有效的 UUID",
    "format": "格式不正确",
}

ZH_INVALID_BY_FIELD: dict[type[fields.Field], str] = {
    fields.String: "必须是文本",
    fields.Integer: "必须是整数",
    fields.Float: "必须是数字",
    fields.Decimal: "必须是数字",
    fields.Boolean: "必须是布尔值",
    fields.DateTime: "必须是 ISO-8601 日期时间",
    fields.Date: "必须是 YYYY-MM-DD 格式的日期",
    fields.List: "必须是列表",
    fields.Dict: "必须是对象",
    fields.Nested: "必须是对象",
    fields.Email: "不是有效的邮箱地址",
    fields.UUID: "不是有效的 UUID",
}


class BaseSchema(Schema):
    """Every request and response schema derives from this one."""

    error_messages = {"unknown": "不支持的字段", "type": "请求体必须是 JSON 对象"}

    class Meta:
        unknown = RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        # Messages the schema author wrote explicitly win over the zh-CN defaults.
        field_type: Any = type(field_obj)
        defaults = _library_defaults(field_type)
        explicit = {key: value for key, value in field_obj.error_messages.items() if value != defaults.get(key)}
        field_obj.error_messages = {**field_obj.error_messages, **_zh_messages(field_type), **explicit}
        for validator in field_obj.validators:
            _translate_validator(validator)


def _translate_validator(validator: Any) -> None:
    """Give a marshmallow validator without an explicit message a zh-CN one."""
    if not hasattr(validator, "error") or validator.error not in (None, getattr(validator, "default_message", None)):
        return
    if isinstance(validator, validate.Length):
        low, high = validator.min, validator.max
        validator.error = (
            f"长度应为 {validator.equal} 个字符"
            if validator.equal is not None
            else f"长度应为 {low or 0}-{high} 个字符"
            if high is not None
            else f"长度至少为 {low} 个字符"
        )
    elif isinstance(validator, validate.Range):
        low, high = validator.min, validator.max
        validator.error = (
            f"取值应在 {low} 到 {high} 之间"
            if low is not None and high is not None
            else f"取值应不小于 {low}"
            if low is not None
            else f"取值应不大于 {high}"
        )
    elif isinstance(validator, validate.OneOf):
        validator.error = "取值应为以下之一:" + "、".join(str(choice) for choice in validator.choices)
    else:
        validator.error = "格式不正确"


@cache
def _library_defaults(field_type: Any) -> dict[str, str]:
    """marshmallow's own (English) messages of a field type."""
    defaults: dict[str, str] = {}
    for cls in reversed(field_type.__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    return defaults


@cache
def _zh_messages(field_type: Any) -> dict[str, str]:
    messages = dict(ZH_FIELD_MESSAGES)
    for known_type, message in ZH_INVALID_BY_FIELD.items():
        if issubclass(field_type, known_type):
            messages["invalid"] = message
    return messages


class ErrorSchema(BaseSchema):
    """The body of every error answer."""

    code = fields.String(required=True, metadata={"description": "stable snake_case error code"})
    message = fields.String(required=True, metadata={"description": "zh-CN message for the end user"})
    details = fields.Dict(metadata={"description": "field errors under details.fields, and other context"})


class CursorPageSchema(BaseSchema):
    """Pagination arguments of every list (``?limit=&cursor=``)."""

    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500, error="必须在 1 到 500 之间"))
    cursor = fields.String(load_default=None)


def load(schema: Schema, data: Any) -> Any:
    """Validate ``data`` outside flask-smorest (a body that may come as a form or JSON): 422 naming fields."""
    try:
        return schema.load(data if data is not None else {})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise InvalidInput(details={"fields": messages}) from exc


class MobileField(fields.String):
    """A mainland mobile, normalised to 11 digits on load; the error names the rule, never the value."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_mobile(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class IdNumberField(fields.String):
    """A resident ID number (GB 11643), normalised on load."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_id_number(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
