"""Leads from staff and partners."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput, RateLimited
from loanbridge.intake import views
from loanbridge.intake.api.schemas import LeadCreateSchema, LeadSchema
from loanbridge.intake.handlers import channels, leads

blp = Blueprint("leads", __name__, url_prefix="/api/intake/v1", description="Leads")

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= 128:
        raise InvalidInput.for_field(IDEMPOTENCY_HEADER, "长度应为 1-128 个字符")
    return key


@blp.route("/leads")
class Leads(MethodView):
    @requires("partner", "sales", "manager", "admin")
    @blp.arguments(LeadCreateSchema)
    @blp.response(201, LeadSchema)
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": IDEMPOTENCY_HEADER,
                "schema": {"type": "string"},
                "description": "retrying with the same key and body answers the first result",
            }
        ]
    )
    def post(self, lead: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Submit a lead. ``external_ref`` or an Idempotency-Key makes retries safe."""
        runtime, principal = runtimes.current(), current_principal()
        if principal.partner_id:
            wait = runtime.autocommit(
                channels.consume_partner_quota, config=runtime.config, partner_id=principal.partner_id
            )
            if wait is not None:
                raise RateLimited(
                    "已超过合作方每分钟提交上限,请稍后重试", code="partner_quota_exceeded", retry_after=wait
                )
        answer = runtime.transaction(
            leads.submit_lead,
            config=runtime.config,
            principal=principal,
            lead=lead,
            idempotency_key=_idempotency_key(),
        )
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
        return answer.body, 201, headers


@blp.route("/leads/<lead_id>")
class Lead(MethodView):
    @requires()
    @blp.response(200, LeadSchema)
    def get(self, lead_id: str) -> dict[str, Any]:
        """Read a lead in the caller's scope (404 outside it)."""
        runtime = runtimes.current()
        return runtime.transaction(
            views.read_lead, config=runtime.config, principal=current_principal(), lead_id=lead_id
        )
