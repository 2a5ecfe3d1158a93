"""The channel registry and partner quotas."""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.intake import views
from loanbridge.intake.api.schemas import (
    ChannelCreateSchema,
    ChannelSchema,
    PartnerQuotaAnswerSchema,
    PartnerQuotaSchema,
    SpendAnswerSchema,
    SpendSchema,
)
from loanbridge.intake.handlers import channels

MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")

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


@blp.route("/channels/<channel>/spend")
class ChannelSpendHistory(MethodView):
    @requires("admin", "manager", "ops")
    @blp.response(200, SpendAnswerSchema(many=True))
    def get(self, channel: str) -> list[dict[str, Any]]:
        """A channel's recorded spend, newest month first."""
        return runtimes.current().transaction(channels.list_spend, channel=channel)


@blp.route("/channels/<channel>/spend/<month>")
class ChannelSpend(MethodView):
    @requires("admin", "manager")
    @blp.arguments(SpendSchema)
    @blp.response(200, SpendAnswerSchema)
    def put(self, data: dict[str, Any], channel: str, month: str) -> dict[str, Any]:
        """Record a channel's spend for a month (YYYY-MM); replaces an earlier figure."""
        if not MONTH.match(month):
            raise InvalidInput.for_field("month", "月份格式应为 YYYY-MM")
        return runtimes.current().transaction(
            channels.record_spend, principal=current_principal(), channel=channel, month=month, amount=data["amount"]
        )
