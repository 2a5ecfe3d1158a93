"""Partner clients and service clients (admin): their secrets are shown once."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import requires
from loanbridge.identity import handlers, views
from loanbridge.identity.api.schemas import ClientCreateSchema, ClientCredentialsSchema, PartnerSchema

blp = Blueprint("clients", __name__, url_prefix="/api/identity/v1", description="Partner and service clients")


@blp.route("/partners")
class Partners(MethodView):
    @requires("admin")
    @blp.arguments(ClientCreateSchema)
    @blp.response(201, ClientCredentialsSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a partner; answers its client_id and client_secret (shown only this once)."""
        runtime = runtimes.current()
        return runtime.transaction(handlers.create_partner, config=runtime.config, name=data["name"])

    @requires("admin")
    @blp.response(200, PartnerSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List partners."""
        return runtimes.current().transaction(views.list_clients, kind="partner")


@blp.route("/service-clients")
class ServiceClients(MethodView):
    @requires("admin")
    @blp.arguments(ClientCreateSchema)
    @blp.response(201, ClientCredentialsSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a service client (role ``service``) for /internal/ calls; the secret is shown once."""
        runtime = runtimes.current()
        return runtime.transaction(handlers.create_service_client, config=runtime.config, name=data["name"])
