"""The in-app inbox of the calling staff member."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.notify import views
from loanbridge.notify.api.schemas import InboxQuerySchema, InboxSchema, MarkedSchema, ReadSchema
from loanbridge.notify.handlers import inbox

blp = Blueprint("inbox", __name__, url_prefix="/api/notify/v1", description="In-app inbox")
STAFF = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops")


@blp.route("/inbox")
class Inbox(MethodView):
    @requires(*STAFF)
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The caller's messages, newest first (``?unread=true`` for unread only), and the unread count."""
        return runtimes.current().transaction(views.inbox, user_id=current_principal().subject, **query)


@blp.route("/inbox/<item_id>/read")
class InboxItemRead(MethodView):
    @requires(*STAFF)
    @blp.response(200, ReadSchema)
    def post(self, item_id: str) -> dict[str, Any]:
        """Mark one message read."""
        return runtimes.current().transaction(inbox.mark_read, user_id=current_principal().subject, item_id=item_id)


@blp.route("/inbox/read-all")
class InboxReadAll(MethodView):
    @requires(*STAFF)
    @blp.response(200, MarkedSchema)
    def post(self) -> dict[str, Any]:
        """Mark every message of the caller read."""
        return runtimes.current().transaction(inbox.mark_all_read, user_id=current_principal().subject)
