"""Products and their forms (admins draft and publish; everyone reads)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.intake import views
from loanbridge.intake.api.schemas import FormDraftSchema, FormSchema, ProductCreateSchema, ProductSchema
from loanbridge.intake.handlers import products

blp = Blueprint("products", __name__, url_prefix="/api/intake/v1", description="Products and forms")


@blp.route("/products")
class Products(MethodView):
    @requires()
    @blp.response(200, ProductSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Products with the version of their published form."""
        return runtimes.current().transaction(views.list_products)

    @requires("admin")
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a product; leads may name it once its form is published."""
        runtime = runtimes.current()
        return runtime.transaction(products.create_product, config=runtime.config, **data)


@blp.route("/products/<product>/forms")
class Forms(MethodView):
    @requires()
    @blp.response(200, FormSchema(many=True))
    def get(self, product: str) -> list[dict[str, Any]]:
        """Every version of a product's form, newest first."""
        return runtimes.current().transaction(views.list_forms, product=product)

    @requires("admin")
    @blp.arguments(FormDraftSchema)
    @blp.response(201, FormSchema)
    def post(self, data: dict[str, Any], product: str) -> dict[str, Any]:
        """Save a new draft version of the form (checked: a JSON Schema with well-formed extensions)."""
        return runtimes.current().transaction(
            products.save_form_draft,
            product=product,
            definition=data["definition"],
            note=data.get("note"),
            actor=current_principal().subject,
        )


@blp.route("/products/<product>/forms/<int:version>/publish")
class PublishForm(MethodView):
    @requires("admin")
    @blp.response(200, FormSchema)
    def post(self, product: str, version: int) -> dict[str, Any]:
        """Publish a draft: new leads are filled with it; earlier leads keep theirs."""
        runtime = runtimes.current()
        return runtime.transaction(
            products.publish_form,
            config=runtime.config,
            product=product,
            version=version,
            actor=current_principal().subject,
        )
