"""The channel registry and partner quotas."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import requires
from loanbridge.intake import views
from loanbridge.intake.api.schemas import (
    ChannelCreateSchema,
    ChannelSchema,
    PartnerQuotaAnswerSchema,
    PartnerQuotaSchema,
)
from loanbridge.intake.handlers import channels

blp = Blueprint("channels", __name__, url_prefix="/api/intake/v1", description="Channels and partner quotas")


@blp.route("/channels")
class Channels(MethodView):
    @requires()
    @blp.response(200, ChannelSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List lead channels."""
        return runtimes.current().transaction(views.list_channels)

    @requires("admin", "manager")
    @blp.arguments(ChannelCreateSchema)
    @blp.response(201, ChannelSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a channel (a partner's channel names its partner_id)."""
        return runtimes.current().transaction(channels.create_channel, **data)


@blp.route("/partners/<partner_id>/quota")
class PartnerQuota(MethodView):
    @requires("admin")
    @blp.arguments(PartnerQuotaSchema)
    @blp.response(200, PartnerQuotaAnswerSchema)
    def put(self, data: dict[str, Any], partner_id: str) -> dict[str, Any]:
        """Set a partner's lead submissions per minute (beyond it: 429 with Retry-After)."""
        runtime = runtimes.current()
        return runtime.transaction(channels.set_partner_quota, config=runtime.config, partner_id=partner_id, **data)
