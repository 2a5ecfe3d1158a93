"""``/internal/v1/``: what other services ask identity at send time. Service tokens only; every call audited;
never routed by the gateway or the Ingress."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.identity import handlers
from loanbridge.identity.api.schemas import StaffContactsSchema

blp = Blueprint("internal", __name__, url_prefix="/internal/v1", description="Service-to-service (not routed)")


@blp.route("/contacts/staff/<user_id>")
class StaffContacts(MethodView):
    @requires("service")
    @blp.response(200, StaffContactsSchema)
    def get(self, user_id: str) -> dict[str, Any]:
        """A staff member's contacts and manager, for notify at send time."""
        runtime = runtimes.current()
        return runtime.transaction(
            handlers.staff_contacts,
            config=runtime.config,
            user_id=user_id,
            caller=current_principal().subject,
        )
