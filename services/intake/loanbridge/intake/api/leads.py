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
from loanbridge.intake.api.schemas import (
    FollowupCreateSchema,
    FollowupSchema,
    LeadCreateSchema,
    LeadPageSchema,
    LeadSchema,
    ListQuerySchema,
    SubmissionSchema,
)
from loanbridge.intake.handlers import applications, channels, followups, leads

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

    @requires()
    @blp.arguments(ListQuerySchema, location="query")
    @blp.response(200, LeadPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Leads in the caller's scope (a partner: its own), newest first (cursor-paginated)."""
        limit, cursor = query.pop("limit"), query.pop("cursor", None)
        page = runtimes.current().transaction(
            views.list_leads, principal=current_principal(), filters=query, limit=limit, cursor=cursor
        )
        return {"items": page.items, "next_cursor": page.next_cursor}


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


@blp.route("/leads/<lead_id>/submit")
class Submit(MethodView):
    @requires("partner", "sales", "manager", "admin")
    @blp.response(201, SubmissionSchema)
    def post(self, lead_id: str) -> dict[str, Any]:
        """Submit the lead's application for risk review (values checked against its form)."""
        runtime = runtimes.current()
        return runtime.transaction(
            applications.submit_application, config=runtime.config, principal=current_principal(), lead_id=lead_id
        )


@blp.route("/leads/<lead_id>/followups")
class Followups(MethodView):
    @requires("sales", "manager", "admin")
    @blp.arguments(FollowupCreateSchema)
    @blp.response(201, FollowupSchema)
    def post(self, data: dict[str, Any], lead_id: str) -> dict[str, Any]:
        """Log a contact with the customer: method, outcome, intent level, next follow-up time."""
        runtime = runtimes.current()
        return runtime.transaction(
            followups.log_followup,
            config=runtime.config,
            principal=current_principal(),
            lead_id=lead_id,
            method=data["method"],
            outcome=data["outcome"],
            intent_level=data.get("intent_level"),
            note=data.get("note"),
            contacted_at=data.get("contacted_at"),
            next_followup_at=data.get("next_followup_at"),
        )
