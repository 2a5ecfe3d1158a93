"""Policies, templates, channels and the message log, for administrators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.notify import views
from loanbridge.notify.api.schemas import (
    CODE,
    ChannelsSchema,
    MessageDeliveriesSchema,
    MessageListSchema,
    MessageQuerySchema,
    PolicyInSchema,
    PolicySchema,
    TemplateInSchema,
    TemplateSchema,
)
from loanbridge.notify.handlers import admin

blp = Blueprint("admin", __name__, url_prefix="/api/notify/v1", description="Policies, templates and messages")
READERS = ("admin", "ops", "manager")


def _code(value: str, field: str) -> str:
    try:
        CODE(value)
    except Exception as exc:  # marshmallow's ValidationError: answer the suite's 422 naming the field
        raise InvalidInput.for_field(field, "只能包含小写字母、数字和下划线,以字母开头") from exc
    return value


@blp.route("/templates")
class Templates(MethodView):
    @requires(*READERS)
    @blp.response(200, TemplateSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every template."""
        return runtimes.current().transaction(admin.list_templates)


@blp.route("/templates/<code>")
class Template(MethodView):
    @requires(*READERS)
    @blp.response(200, TemplateSchema)
    def get(self, code: str) -> dict[str, Any]:
        """One template."""
        return runtimes.current().transaction(admin.read_template, code=code)

    @requires("admin")
    @blp.arguments(TemplateInSchema)
    @blp.response(200, TemplateSchema)
    def put(self, changes: dict[str, Any], code: str) -> dict[str, Any]:
        """Create or change a template (Jinja2, sandboxed); the version goes up."""
        return runtimes.current().transaction(
            admin.save_template, actor=current_principal().subject, code=_code(code, "code"), changes=changes
        )


@blp.route("/policies")
class Policies(MethodView):
    @requires(*READERS)
    @blp.response(200, PolicySchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every policy."""
        return runtimes.current().transaction(admin.list_policies)


@blp.route("/policies/<policy_id>")
class Policy(MethodView):
    @requires(*READERS)
    @blp.response(200, PolicySchema)
    def get(self, policy_id: str) -> dict[str, Any]:
        """One policy."""
        return runtimes.current().transaction(admin.read_policy, policy_id=policy_id)

    @requires("admin")
    @blp.arguments(PolicyInSchema)
    @blp.response(200, PolicySchema)
    def put(self, changes: dict[str, Any], policy_id: str) -> dict[str, Any]:
        """Create or change a policy (``active: false`` switches it off); it applies from the next event."""
        return runtimes.current().transaction(
            admin.save_policy, actor=current_principal().subject, policy_id=_code(policy_id, "id"), changes=changes
        )


@blp.route("/channels")
class Channels(MethodView):
    @requires(*READERS)
    @blp.response(200, ChannelsSchema)
    def get(self) -> dict[str, Any]:
        """Which channels this installation can send on (credentials are never shown)."""
        return runtimes.current().config.channels_configured()


@blp.route("/messages")
class Messages(MethodView):
    @requires(*READERS)
    @blp.arguments(MessageQuerySchema, location="query")
    @blp.response(200, MessageListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Messages by subject (case, loan, task), status or recipient, soonest due first."""
        return runtimes.current().transaction(views.messages, **query)


@blp.route("/messages/<message_id>/deliveries")
class MessageDeliveries(MethodView):
    @requires(*READERS)
    @blp.response(200, MessageDeliveriesSchema)
    def get(self, message_id: str) -> dict[str, Any]:
        """A message and every attempt (status, provider code, template, masked recipient, body hash)."""
        return runtimes.current().transaction(views.deliveries, message_id=message_id)
