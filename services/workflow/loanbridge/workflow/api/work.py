"""Work views and settings: my tasks, the public pool and claims, assignment rules, staff caps."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.workflow import views
from loanbridge.workflow.api.schemas import (
    CapAnswerSchema,
    CapSchema,
    CaseSchema,
    PoolPageSchema,
    PoolQuerySchema,
    RuleListSchema,
    RuleSchema,
    RuleWriteSchema,
    TaskListSchema,
    TaskQuerySchema,
    TaskSchema,
)
from loanbridge.workflow.handlers import pool, rules, staff, tasks

blp = Blueprint("work", __name__, url_prefix="/api/workflow/v1", description="Tasks, public pool, rules")
STAFF = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops")


@blp.route("/tasks")
class Tasks(MethodView):
    @requires(*STAFF)
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """My to-dos (mine, or for a role I hold), soonest due first; ``?overdue=true`` for the late ones."""
        items = runtimes.current().transaction(
            views.my_tasks, principal=current_principal(), status=query["status"], overdue=query["overdue"]
        )
        return {"items": items}


@blp.route("/tasks/<task_id>/complete")
class CompleteTask(MethodView):
    @requires(*STAFF)
    @blp.response(200, TaskSchema)
    def post(self, task_id: str) -> dict[str, Any]:
        """Mark a to-do done."""
        return runtimes.current().transaction(tasks.complete_task, principal=current_principal(), task_id=task_id)


@blp.route("/pool")
class Pool(MethodView):
    @requires("sales", "manager", "admin")
    @blp.arguments(PoolQuerySchema, location="query")
    @blp.response(200, PoolPageSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The public pool (公海): open cases whose customer nobody owns, with why they are there."""
        page = runtimes.current().transaction(
            views.public_pool, limit=query["limit"], cursor=query.get("cursor"), city=query.get("city"),
            product=query.get("product"),
        )  # fmt: skip
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/pool/<case_id>/claim")
class Claim(MethodView):
    @requires("sales", "manager")
    @blp.response(200, CaseSchema)
    def post(self, case_id: str) -> dict[str, Any]:
        """Take the case's customer from the public pool (409 beyond one's cap)."""
        return runtimes.current().transaction(pool.claim, principal=current_principal(), case_id=case_id)


@blp.route("/assignment-rules")
class Rules(MethodView):
    @requires("admin", "manager")
    @blp.response(200, RuleListSchema)
    def get(self) -> dict[str, Any]:
        """The assignment rules, in the order they are tried."""
        return {"items": runtimes.current().transaction(rules.list_rules)}

    @requires("admin")
    @blp.arguments(RuleWriteSchema)
    @blp.response(201, RuleSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add a rule: a condition (cities, products, channels, amount range, expression) and a strategy."""
        return runtimes.current().transaction(rules.create_rule, rule=body)


@blp.route("/assignment-rules/<rule_id>")
class Rule(MethodView):
    @requires("admin")
    @blp.arguments(RuleWriteSchema)
    @blp.response(200, RuleSchema)
    def put(self, body: dict[str, Any], rule_id: str) -> dict[str, Any]:
        """Replace a rule."""
        return runtimes.current().transaction(rules.update_rule, rule_id=rule_id, rule=body)


@blp.route("/staff/<user_id>/cap")
class Cap(MethodView):
    @requires("admin")
    @blp.arguments(CapSchema)
    @blp.response(200, CapAnswerSchema)
    def put(self, body: dict[str, Any], user_id: str) -> dict[str, Any]:
        """How many open customers a staff member may own (null: the configured default)."""
        return runtimes.current().transaction(staff.set_cap, user_id=user_id, cap=body["cap"])
