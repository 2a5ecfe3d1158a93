"""The lenders' product catalogue and plan matching (方案匹配)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.risk.api.schemas import (
    LenderProductCreateSchema,
    LenderProductSchema,
    LenderProductUpdateSchema,
    MatchAnswerSchema,
    MatchSchema,
)
from loanbridge.risk.handlers import lenders

blp = Blueprint("lenders", __name__, url_prefix="/api/risk/v1", description="Lender products and matching")
STAFF = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops")


@blp.route("/lender-products")
class LenderProducts(MethodView):
    @requires(*STAFF)
    @blp.response(200, LenderProductSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The lender products the firm places loans with."""
        return runtimes.current().transaction(lenders.list_lender_products)

    @requires("admin", "risk_director")
    @blp.arguments(LenderProductCreateSchema)
    @blp.response(201, LenderProductSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a lender product with its terms and admission criteria."""
        return runtimes.current().transaction(lenders.create_lender_product, principal=current_principal(), **data)


@blp.route("/lender-products/<product_id>")
class LenderProduct(MethodView):
    @requires("admin", "risk_director")
    @blp.arguments(LenderProductUpdateSchema)
    @blp.response(200, LenderProductSchema)
    def put(self, data: dict[str, Any], product_id: str) -> dict[str, Any]:
        """Change a lender product: a new version."""
        return runtimes.current().transaction(
            lenders.update_lender_product, principal=current_principal(), product_id=product_id, **data
        )


@blp.route("/match")
class Match(MethodView):
    @requires(*STAFF)
    @blp.arguments(MatchSchema)
    @blp.response(200, MatchAnswerSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Every active lender product against an application: eligible ones ranked, the rest with what failed."""
        runtime = runtimes.current()
        return runtime.transaction(lenders.match, config=runtime.config, **data)
