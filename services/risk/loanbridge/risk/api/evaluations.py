"""Evaluations and grades, as staff read them."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.risk import views
from loanbridge.risk.api.schemas import EvaluationListQuerySchema, EvaluationPageSchema, EvaluationSchema, GradeSchema
from loanbridge.risk.handlers import grades

blp = Blueprint("evaluations", __name__, url_prefix="/api/risk/v1", description="Evaluations and grades")
READERS = ("admin", "risk_officer", "risk_director", "manager", "ops")


@blp.route("/evaluations")
class Evaluations(MethodView):
    @requires(*READERS)
    @blp.arguments(EvaluationListQuerySchema, location="query")
    @blp.response(200, EvaluationPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Evaluations in the caller's scope newest first, by lead, product, decision, flag and date (?from=&to=)."""
        return runtimes.current().transaction(views.list_evaluations, principal=current_principal(), **query)


@blp.route("/evaluations/<evaluation_id>")
class Evaluation(MethodView):
    @requires(*READERS)
    @blp.response(200, EvaluationSchema)
    def get(self, evaluation_id: str) -> dict[str, Any]:
        """One evaluation: its inputs, hits, scorecard, and every rule of its version as a checklist (404 outside
        the caller's scope)."""
        principal = current_principal()
        return runtimes.current().transaction(views.read_evaluation, principal=principal, evaluation_id=evaluation_id)


@blp.route("/grades/<customer_id>")
class Grade(MethodView):
    @requires(*READERS, "sales")
    @blp.response(200, GradeSchema)
    def get(self, customer_id: str) -> dict[str, Any]:
        """A customer's grade (the configured default grade when never graded; 404 outside the caller's scope)."""
        runtime, principal = runtimes.current(), current_principal()
        return runtime.transaction(
            grades.read_grade, config=runtime.config, principal=principal, customer_id=customer_id
        )
