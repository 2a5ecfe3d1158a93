"""Cases: lists by stage, one case and its history, transitions, reassignment, release to the public pool,
lender submissions and decisions, and the team board."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.workflow import views
from loanbridge.workflow.api.schemas import (
    BoardQuerySchema,
    BoardSchema,
    CaseListQuerySchema,
    CasePageSchema,
    CaseSchema,
    HistorySchema,
    LenderDecisionSchema,
    LenderSubmissionCreateSchema,
    LenderSubmissionSchema,
    ReassignSchema,
    ReleaseSchema,
    TransitionSchema,
)
from loanbridge.workflow.handlers import cases, lenders, pool

blp = Blueprint("cases", __name__, url_prefix="/api/workflow/v1", description="Cases")
STAFF = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops")


@blp.route("/cases")
class Cases(MethodView):
    @requires(*STAFF)
    @blp.arguments(CaseListQuerySchema, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Cases in the caller's scope, newest first (``?stage=&mine=true`` for my cases by stage)."""
        limit, cursor = query.pop("limit"), query.pop("cursor", None)
        page = runtimes.current().transaction(
            views.list_cases, principal=current_principal(), filters=query, limit=limit, cursor=cursor
        )
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/cases/<case_id>")
class Case(MethodView):
    @requires(*STAFF)
    @blp.response(200, CaseSchema)
    def get(self, case_id: str) -> dict[str, Any]:
        """One case in the caller's scope (404 outside it)."""
        return runtimes.current().transaction(views.read_case, principal=current_principal(), case_id=case_id)


@blp.route("/cases/<case_id>/history")
class History(MethodView):
    @requires(*STAFF)
    @blp.response(200, HistorySchema)
    def get(self, case_id: str) -> dict[str, Any]:
        """Every assignment, stage change, recycle, claim and escalation of a case, oldest first."""
        items = runtimes.current().transaction(views.case_history, principal=current_principal(), case_id=case_id)
        return {"items": items}


@blp.route("/cases/<case_id>/transitions")
class Transitions(MethodView):
    @requires(*STAFF)
    @blp.arguments(TransitionSchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: str) -> dict[str, Any]:
        """Move a case to another stage: 409 naming the rule that forbids it, 403 for a role not allowed."""
        return runtimes.current().transaction(
            cases.transition, principal=current_principal(), case_id=case_id, to=body["to"], reason=body["reason"]
        )


@blp.route("/cases/<case_id>/assignment")
class Assignment(MethodView):
    @requires("manager", "admin")
    @blp.arguments(ReassignSchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: str) -> dict[str, Any]:
        """Give the case's customer (all their open cases) to another staff member."""
        return runtimes.current().transaction(
            cases.reassign, principal=current_principal(), case_id=case_id, assignee_id=body["assignee_id"],
            reason=body["reason"],
        )  # fmt: skip


@blp.route("/cases/<case_id>/release")
class Release(MethodView):
    @requires("sales", "manager", "admin")
    @blp.arguments(ReleaseSchema)
    @blp.response(200, CaseSchema)
    def post(self, body: dict[str, Any], case_id: str) -> dict[str, Any]:
        """Give the case's customer back to the public pool (公海), with the reason."""
        return runtimes.current().transaction(
            pool.release, principal=current_principal(), case_id=case_id, reason=body["reason"]
        )


@blp.route("/cases/<case_id>/lender-submissions")
class LenderSubmissions(MethodView):
    @requires("sales", "manager", "admin", "risk_officer", "risk_director", "ops")
    @blp.arguments(LenderSubmissionCreateSchema)
    @blp.response(201, LenderSubmissionSchema)
    def post(self, body: dict[str, Any], case_id: str) -> dict[str, Any]:
        """Record that the case was submitted to a lender."""
        return runtimes.current().transaction(lenders.submit, principal=current_principal(), case_id=case_id, **body)


@blp.route("/cases/<case_id>/lender-submissions/<submission_id>/decision")
class LenderDecision(MethodView):
    @requires("manager", "admin", "risk_officer", "risk_director", "ops")
    @blp.arguments(LenderDecisionSchema)
    @blp.response(200, LenderSubmissionSchema)
    def post(self, body: dict[str, Any], case_id: str, submission_id: str) -> dict[str, Any]:
        """Record the lender's decision: approved → 合同签署; declined → 机构拒贷 or back to 方案匹配."""
        return runtimes.current().transaction(
            lenders.decide, principal=current_principal(), case_id=case_id, submission_id=submission_id, **body
        )


@blp.route("/board")
class Board(MethodView):
    @requires("manager", "admin")
    @blp.arguments(BoardQuerySchema, location="query")
    @blp.response(200, BoardSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Per stage, the team's open cases, how many have overdue tasks, and who holds them."""
        return runtimes.current().transaction(
            views.team_board, principal=current_principal(), team_id=query.get("team_id")
        )
