"""Webhooks for external systems (a finance system, a partner), and the SMS reply callback."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.notify.api.schemas import (
    DeliveryQuerySchema,
    RedeliverSchema,
    SmsRepliesAnswerSchema,
    WebhookDeliveryListSchema,
    WebhookInSchema,
    WebhookListSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from loanbridge.notify.domain import signing
from loanbridge.notify.handlers import replies, webhooks

blp = Blueprint("webhooks", __name__, url_prefix="/api/notify/v1", description="Webhooks and SMS replies")


@blp.route("/webhooks")
class Webhooks(MethodView):
    @requires("admin")
    @blp.response(200, WebhookListSchema)
    def get(self) -> dict[str, Any]:
        """Registered webhooks (secrets are never shown again)."""
        return {"items": runtimes.current().transaction(webhooks.list_webhooks)}

    @requires("admin")
    @blp.arguments(WebhookInSchema)
    @blp.response(201, WebhookSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a URL for event types; deliveries are signed with the secret shown in this answer only."""
        return runtimes.current().transaction(webhooks.register_webhook, actor=current_principal().subject, **data)


@blp.route("/webhooks/<webhook_id>")
class Webhook(MethodView):
    @requires("admin")
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, WebhookSchema)
    def patch(self, changes: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        """Change the URL or event types, or pause it (``active: false``)."""
        return runtimes.current().transaction(webhooks.update_webhook, webhook_id=webhook_id, changes=changes)


@blp.route("/webhooks/<webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @requires("admin", "ops")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, WebhookDeliveryListSchema)
    def get(self, query: dict[str, Any], webhook_id: str) -> dict[str, Any]:
        """Deliveries newest first, each with its every attempt."""
        items = runtimes.current().transaction(webhooks.list_deliveries, webhook_id=webhook_id, limit=query["limit"])
        return {"items": items}


@blp.route("/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
class Redeliver(MethodView):
    @requires("admin", "ops")
    @blp.response(202, RedeliverSchema)
    def post(self, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        """Send a delivery again now, with a fresh 24-hour retry window."""
        runtime = runtimes.current()
        return runtime.transaction(
            webhooks.redeliver,
            webhook_id=webhook_id,
            delivery_id=delivery_id,
            hours=runtime.config.webhook_retry_hours,
        )


@blp.route("/sms/replies")
class SmsReplies(MethodView):
    @blp.response(200, SmsRepliesAnswerSchema)
    def post(self) -> dict[str, Any]:
        """The SMS provider's reply push (a JSON list of {phone_number, content, send_time}), signed with the
        callback secret in ``X-LoanBridge-Timestamp`` / ``X-LoanBridge-Signature``; 退订 opts the customer out."""
        runtime = runtimes.current()
        body = request.get_data(cache=True)
        replies.verify_callback(
            runtime.config,
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER, ""),
            signature=request.headers.get(signing.SIGNATURE_HEADER, ""),
            body=body,
        )
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None  # providers do not always say application/json; the body decides
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
            raise InvalidInput("回调内容格式不正确", code="invalid_callback")
        return runtime.transaction(replies.record_replies, config=runtime.config, replies=payload)
