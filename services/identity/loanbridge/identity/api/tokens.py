"""``POST /token`` (OAuth2 password and client_credentials, form or JSON) and ``GET /jwks``."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.errors import InvalidInput
from loanbridge.common.schemas import load
from loanbridge.identity import handlers
from loanbridge.identity.api.schemas import JwksSchema, TokenRequestSchema, TokenSchema

blp = Blueprint("tokens", __name__, url_prefix="/api/identity/v1", description="Tokens and signing keys")

REQUIRED_BY_GRANT = {
    "password": ("username", "password"),
    "client_credentials": ("client_id", "client_secret"),
}


def _token_request() -> dict[str, Any]:
    body = request.form.to_dict() if request.form else request.get_json(silent=True)
    data = load(TokenRequestSchema(), body)
    missing = [name for name in REQUIRED_BY_GRANT[data["grant_type"]] if not data.get(name)]
    if missing:
        raise InvalidInput(details={"fields": {name: ["此字段为必填项"] for name in missing}})
    return data


@blp.route("/token")
class Token(MethodView):
    @blp.doc(
        requestBody={
            "content": {
                "application/x-www-form-urlencoded": {"schema": TokenRequestSchema},
                "application/json": {"schema": TokenRequestSchema},
            }
        }
    )
    @blp.response(200, TokenSchema)
    def post(self) -> dict[str, Any]:
        """Issue an access token (OAuth2 password or client_credentials grant)."""
        data = _token_request()
        runtime = runtimes.current()
        common = {
            "config": runtime.config,
            "issuer": runtime.settings.auth.issuer,
            "audience": runtime.settings.auth.audience,
            "remote_addr": request.headers.get("X-Forwarded-For", request.remote_addr or "").split(",")[0][:64],
        }
        if data["grant_type"] == "password":
            grant = runtime.transaction(
                handlers.password_grant, username=data["username"], password=data["password"], **common
            )
        else:
            grant = runtime.transaction(
                handlers.client_credentials_grant,
                client_id=data["client_id"],
                client_secret=data["client_secret"],
                **common,
            )
        if grant.refusal is not None:
            raise grant.refusal
        return {"access_token": grant.access_token, "token_type": "Bearer", "expires_in": grant.expires_in}


@blp.route("/jwks")
class Jwks(MethodView):
    @blp.response(200, JwksSchema)
    def get(self) -> dict[str, Any]:
        """The public keys that verify identity's tokens (JWKS)."""
        runtime = runtimes.current()
        return runtime.transaction(handlers.current_jwks, config=runtime.config)
