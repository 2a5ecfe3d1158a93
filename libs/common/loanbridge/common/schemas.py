"""The base marshmallow schema: zh-CN validation messages, unknown fields refused, and the error shape."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from loanbridge.common.errors import InvalidInput
from loanbridge.common.pii.validators import normalise_id_number, normalise_mobile

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

    error_messages: ClassVar[dict[str, str]] = {"unknown": "不支持的字段", "type": "请求体必须是 JSON 对象"}

    class Meta:
        unknown = RAISE
        ordered = True

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        messages = dict(ZH_FIELD_MESSAGES)
        for field_type, message in ZH_INVALID_BY_FIELD.items():
            if isinstance(field_obj, field_type):
                messages["invalid"] = message
        # Messages the schema author wrote explicitly win over the defaults.
        explicit = {
            key: value for key, value in field_obj.error_messages.items() if key not in _library_default_keys(field_obj)
        }
        field_obj.error_messages = {**field_obj.error_messages, **messages, **explicit}


def _library_default_keys(field_obj: fields.Field) -> set[str]:
    """Keys whose message is still marshmallow's English default."""
    defaults: dict[str, Any] = {}
    for cls in reversed(type(field_obj).__mro__):
        defaults.update(getattr(cls, "default_error_messages", {}))
    return {key for key, value in defaults.items() if field_obj.error_messages.get(key) == value}


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
