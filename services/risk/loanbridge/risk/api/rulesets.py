"""Rule sets: drafts, four-eyes approval, publishing, rollback, history; dry-run evaluation and simulation."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.risk.api.schemas import (
    AssessmentSchema,
    DraftSchema,
    EvaluateSchema,
    NoteSchema,
    RollbackSchema,
    RulesetSchema,
    SimulateSchema,
    SimulationSchema,
    VersionQuerySchema,
)
from loanbridge.risk.handlers import evaluations, rulesets

blp = Blueprint("rulesets", __name__, url_prefix="/api/risk/v1", description="Rule sets and evaluation")
READERS = ("admin", "risk_officer", "risk_director", "manager", "ops")
EDITORS = ("admin", "risk_officer", "risk_director")
STAFF_AND_PARTNERS = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops", "partner")


@blp.route("/rulesets")
class Rulesets(MethodView):
    @requires(*READERS)
    @blp.response(200, RulesetSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The published rule set of every product."""
        return runtimes.current().transaction(rulesets.list_rulesets)


@blp.route("/rulesets/<product>")
class Ruleset(MethodView):
    @requires(*READERS)
    @blp.arguments(VersionQuerySchema, location="query")
    @blp.response(200, RulesetSchema)
    def get(self, query: dict[str, Any], product: str) -> dict[str, Any]:
        """A version of a product's rule set with its JDM model (the published one by default)."""
        return runtimes.current().transaction(rulesets.read, product=product, version=query["version"])


@blp.route("/rulesets/<product>/versions")
class Versions(MethodView):
    @requires(*READERS)
    @blp.response(200, RulesetSchema(many=True))
    def get(self, product: str) -> list[dict[str, Any]]:
        """Every version, newest first: who did what when, with a note, and the diff to the version before."""
        return runtimes.current().transaction(rulesets.history, product=product)

    @requires(*EDITORS)
    @blp.arguments(DraftSchema)
    @blp.response(201, RulesetSchema)
    def post(self, data: dict[str, Any], product: str) -> dict[str, Any]:
        """Save a draft; 422 with the problems node by node when it could not be published."""
        return runtimes.current().transaction(
            rulesets.save_draft, principal=current_principal(), product=product, **data
        )


@blp.route("/rulesets/<product>/versions/<int:version>/approve")
class Approve(MethodView):
    @requires("risk_director")
    @blp.arguments(NoteSchema)
    @blp.response(200, RulesetSchema)
    def post(self, data: dict[str, Any], product: str, version: int) -> dict[str, Any]:
        """Approve a draft (a risk director who did not draft it)."""
        return runtimes.current().transaction(
            rulesets.approve, principal=current_principal(), product=product, version=version, **data
        )


@blp.route("/rulesets/<product>/versions/<int:version>/publish")
class Publish(MethodView):
    @requires("risk_director", "admin")
    @blp.arguments(NoteSchema)
    @blp.response(200, RulesetSchema)
    def post(self, data: dict[str, Any], product: str, version: int) -> dict[str, Any]:
        """Publish an approved version: evaluations from now on use it."""
        runtime = runtimes.current()
        return runtime.transaction(
            rulesets.publish,
            config=runtime.config,
            principal=current_principal(),
            product=product,
            version=version,
            **data,
        )


@blp.route("/rulesets/<product>/rollback")
class Rollback(MethodView):
    @requires("risk_director")
    @blp.arguments(RollbackSchema)
    @blp.response(200, RulesetSchema)
    def post(self, data: dict[str, Any], product: str) -> dict[str, Any]:
        """Republish a version published before (the current one is marked rolled back)."""
        runtime = runtimes.current()
        return runtime.transaction(
            rulesets.roll_back, config=runtime.config, principal=current_principal(), product=product, **data
        )


@blp.route("/rulesets/<product>/simulate")
class Simulate(MethodView):
    @requires(*EDITORS)
    @blp.arguments(SimulateSchema)
    @blp.response(200, SimulationSchema)
    def post(self, data: dict[str, Any], product: str) -> dict[str, Any]:
        """Run a version over the last N stored evaluations (or a date range): the decision mix before and after."""
        runtime = runtimes.current()
        return runtime.transaction(evaluations.simulate, config=runtime.config, product=product, **data)


@blp.route("/evaluate")
class Evaluate(MethodView):
    @requires(*STAFF_AND_PARTNERS)
    @blp.arguments(EvaluateSchema)
    @blp.response(200, AssessmentSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Evaluate an application as a dry run (nothing is stored): for staff and for partners who pre-screen."""
        runtime = runtimes.current()
        return runtime.transaction(evaluations.dry_run, config=runtime.config, **data)
