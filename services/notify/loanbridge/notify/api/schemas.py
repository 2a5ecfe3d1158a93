"""Request and response schemas of notify's API."""

from __future__ import annotations

from marshmallow import fields, validate

from loanbridge.common.schemas import BaseSchema

CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="只能包含小写字母、数字和下划线,以字母开头")
Limit = fields.Integer(load_default=50, validate=validate.Range(1, 500, error="必须在 1 到 500 之间"))


class InboxQuerySchema(BaseSchema):
    unread = fields.Boolean(load_default=None)
    limit = Limit


class InboxItemSchema(BaseSchema):
    id = fields.String()
    template = fields.String()
    title = fields.String()
    body = fields.String()
    subject_id = fields.String()
    created_at = fields.DateTime()
    read = fields.Boolean()
    read_at = fields.DateTime(allow_none=True)


class InboxSchema(BaseSchema):
    items = fields.List(fields.Nested(InboxItemSchema))
    unread = fields.Integer()


class ReadSchema(BaseSchema):
    id = fields.String()
    read = fields.Boolean()


class MarkedSchema(BaseSchema):
    marked = fields.Integer()


class TemplateInSchema(BaseSchema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    body = fields.String(validate=validate.Length(min=1, max=4000))
    marketing = fields.Boolean()
    sms_template_code = fields.String(allow_none=True, validate=validate.Length(max=64))
    sms_params = fields.Dict(keys=fields.String(), values=fields.String())


class TemplateSchema(TemplateInSchema):
    code = fields.String()
    version = fields.Integer()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class PolicyInSchema(BaseSchema):
    event_type = fields.String()
    condition = fields.Dict()
    recipients = fields.List(fields.String(validate=validate.Length(max=40)))
    channels = fields.List(fields.String())
    template = fields.String()
    timing = fields.Dict(
        metadata={"description": "kind now / delay (minutes) / before_installments (days, at) / after_event (days, at)"}
    )
    active = fields.Boolean()


class PolicySchema(PolicyInSchema):
    id = fields.String()
    version = fields.Integer()
    updated_by = fields.String()
    updated_at = fields.DateTime()


class MessageQuerySchema(BaseSchema):
    subject_id = fields.String(load_default=None)
    status = fields.String(load_default=None)
    recipient_id = fields.String(load_default=None)
    limit = Limit


class DeliverySchema(BaseSchema):
    attempt = fields.Integer()
    status = fields.String()
    provider_code = fields.String(allow_none=True)
    template = fields.String()
    masked_recipient = fields.String()
    body_sha256 = fields.String(allow_none=True)
    digest_of = fields.Integer()
    at = fields.DateTime()


class MessageSchema(BaseSchema):
    id = fields.String()
    event_type = fields.String()
    policy_id = fields.String()
    template = fields.String()
    channel = fields.String()
    recipient_kind = fields.String()
    recipient_id = fields.String()
    subject_id = fields.String()
    status = fields.String(metadata={"description": "pending, sending, sent, failed, cancelled or suppressed"})
    due_at = fields.DateTime()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class MessageListSchema(BaseSchema):
    items = fields.List(fields.Nested(MessageSchema))


class MessageDeliveriesSchema(MessageSchema):
    deliveries = fields.List(fields.Nested(DeliverySchema))


class WebhookInSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"}, validate=validate.Length(max=500))
    event_types = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    secret = fields.String(load_default=None, validate=validate.Length(min=16, max=128))


class WebhookUpdateSchema(BaseSchema):
    url = fields.Url(require_tld=False, schemes={"http", "https"}, validate=validate.Length(max=500))
    event_types = fields.List(fields.String(), validate=validate.Length(min=1))
    active = fields.Boolean()


class WebhookSchema(BaseSchema):
    id = fields.String()
    name = fields.String()
    url = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()
    secret = fields.String(metadata={"description": "shown only when registered"})


class WebhookListSchema(BaseSchema):
    items = fields.List(fields.Nested(WebhookSchema))


class WebhookAttemptSchema(BaseSchema):
    attempt = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    outcome = fields.String()
    error = fields.String(allow_none=True)
    at = fields.DateTime()


class WebhookDeliverySchema(BaseSchema):
    id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending, sending, delivered or failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    log = fields.List(fields.Nested(WebhookAttemptSchema))


class WebhookDeliveryListSchema(BaseSchema):
    items = fields.List(fields.Nested(WebhookDeliverySchema))


class DeliveryQuerySchema(BaseSchema):
    limit = Limit


class RedeliverSchema(BaseSchema):
    id = fields.String()
    status = fields.String()


class SmsRepliesAnswerSchema(BaseSchema):
    received = fields.Integer()
    opted_out = fields.Integer()
    unmatched = fields.Integer()


class ChannelsSchema(BaseSchema):
    inbox = fields.Boolean()
    dingtalk = fields.Boolean()
    wecom = fields.Boolean()
    sms = fields.String(allow_none=True)
    email = fields.Boolean()
