"""Process definitions: the schema, drafts, validation and publication (admins)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.workflow.api.schemas import (
    ProcessCreateSchema,
    ProcessListQuerySchema,
    ProcessSchema,
    ProcessUpdateSchema,
    ValidationResultSchema,
)
from loanbridge.workflow.domain.processes import PROCESS_SCHEMA
from loanbridge.workflow.handlers import processes

blp = Blueprint("processes", __name__, url_prefix="/api/workflow/v1", description="Process definitions")


@blp.route("/processes/schema")
class Schema(MethodView):
    @requires()
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        """The JSON Schema every process definition is checked against."""
        return PROCESS_SCHEMA


@blp.route("/processes")
class Processes(MethodView):
    @requires("admin", "manager")
    @blp.arguments(ProcessListQuerySchema, location="query")
    @blp.response(200, ProcessSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Every version of every product's process (or of one product)."""
        return runtimes.current().transaction(processes.list_versions, product=query.get("product"))

    @requires("admin")
    @blp.arguments(ProcessCreateSchema)
    @blp.response(201, ProcessSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Save a new draft version of a product's process (422 naming what is wrong)."""
        return runtimes.current().transaction(
            processes.create_draft, principal=current_principal(), product=body["product"],
            definition=body["definition"],
        )  # fmt: skip


@blp.route("/processes/<product>/published")
class Published(MethodView):
    @requires()
    @blp.response(200, ProcessSchema)
    def get(self, product: str) -> dict[str, Any]:
        """The version new cases of a product run under."""
        return runtimes.current().transaction(processes.read_published, product=product)


@blp.route("/processes/<product>/versions/<int:version>")
class Version(MethodView):
    @requires()
    @blp.response(200, ProcessSchema)
    def get(self, product: str, version: int) -> dict[str, Any]:
        """One version of a product's process."""
        return runtimes.current().transaction(processes.read_version, product=product, version=version)

    @requires("admin")
    @blp.arguments(ProcessUpdateSchema)
    @blp.response(200, ProcessSchema)
    def put(self, body: dict[str, Any], product: str, version: int) -> dict[str, Any]:
        """Replace a draft's definition (a published version never changes)."""
        return runtimes.current().transaction(
            processes.update_draft, principal=current_principal(), product=product, version=version,
            definition=body["definition"],
        )  # fmt: skip


@blp.route("/processes/<product>/versions/<int:version>/validate")
class Validate(MethodView):
    @requires("admin")
    @blp.response(200, ValidationResultSchema)
    def post(self, product: str, version: int) -> dict[str, Any]:
        """Check a stored version without publishing it."""
        return runtimes.current().transaction(processes.validate_version, product=product, version=version)


@blp.route("/processes/<product>/versions/<int:version>/publish")
class Publish(MethodView):
    @requires("admin")
    @blp.response(200, ProcessSchema)
    def post(self, product: str, version: int) -> dict[str, Any]:
        """Publish a draft: new cases run under it, open cases keep theirs."""
        return runtimes.current().transaction(
            processes.publish, principal=current_principal(), product=product, version=version
        )
