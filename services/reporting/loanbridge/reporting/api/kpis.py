"""``GET /api/reporting/v1/kpis`` and the other KPI tables: the firm's numbers over business days, filtered and
scoped by the caller's role (a salesperson's own leads, a manager's teams', everything for admin and ops);
``export.xlsx`` gives any of them as a workbook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response
from flask.views import MethodView

from loanbridge.common import clock
from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import Principal, current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.common.uow import UnitOfWork
from loanbridge.reporting import exports, views
from loanbridge.reporting.api import schemas
from loanbridge.reporting.views import KpiQuery

blp = Blueprint("kpis", __name__, url_prefix="/api/reporting/v1", description="KPIs")

DEFAULT_DAYS = 30
MAX_DAYS = 3660
READERS = ("admin", "ops", "manager", "sales")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def kpi_query(arguments: dict[str, Any], principal: Principal) -> KpiQuery:
    """The query's range (default: the last 30 business days), filters and the caller's scope."""
    end = arguments.get("to") or clock.business_date(clock.now())
    start = arguments.get("from_") or end - timedelta(days=DEFAULT_DAYS - 1)
    if (end - start).days > MAX_DAYS:
        raise InvalidInput.for_field("from", "查询范围不能超过 10 年")
    filters = {name: arguments.get(name) for name in views.FILTERS}
    if principal.has_any("admin", "ops"):
        return KpiQuery(start, end, **filters)
    if principal.has_any("manager"):
        return KpiQuery(start, end, **filters, scope_teams=principal.managed_team_ids)
    return KpiQuery(start, end, **filters, scope_user=principal.subject)


def answer(rows: Callable[[UnitOfWork, KpiQuery], list[dict[str, Any]]], arguments: dict[str, Any]) -> dict[str, Any]:
    query = kpi_query(arguments, current_principal())
    return {"from_": query.start, "to": query.end, "rows": runtimes.current().transaction(rows, query=query)}


@blp.route("/kpis")
class Kpis(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.KpiAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Channel conversion: leads per channel and product created in the range, and how many reached each
        step up to disbursement."""
        return answer(views.lead_kpis, arguments)


@blp.route("/roi")
class Roi(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.RoiAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Channel ROI: spend, leads, loans, commission, cost per lead and per funded loan."""
        return answer(views.roi, arguments)


@blp.route("/approvals")
class Approvals(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.ApprovalAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Risk approvals over evaluations and lender approvals over submissions, per channel and product."""
        return answer(views.approvals, arguments)


@blp.route("/funnel")
class Funnel(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.FunnelAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The funnel by stage of the leads created in the range."""
        return answer(views.funnel, arguments)


@blp.route("/stage-times")
class StageTimes(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.StageTimeAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Time in each stage (median and p90, hours) of the stays that ended in the range."""
        return answer(views.stage_times, arguments)


@blp.route("/leaderboard")
class Leaderboard(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.LeaderboardQuerySchema, location="query")
    @blp.response(200, schemas.LeaderboardAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Salespeople (``by=owner``) or teams (``by=team``) ranked by principal disbursed in the range."""
        name = "leaderboard_teams" if arguments.pop("by") == "team" else "leaderboard_owners"
        return answer(exports.TABLES[name].rows, arguments)


@blp.route("/overdue")
class Overdue(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.OverdueAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """M1+ and M3+ by count and outstanding principal, per disbursement month, product and channel."""
        return answer(views.overdue, arguments)


@blp.route("/trends")
class Trends(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.TrendAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Weekly counts: leads, evaluations, approvals, submissions, loans and principal."""
        return answer(views.trends, arguments)


@blp.route("/sla")
class Sla(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.KpiQuerySchema, location="query")
    @blp.response(200, schemas.SlaAnswerSchema)
    def get(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """SLA breach rate per task kind and team: to-dos created in the range that went overdue."""
        return answer(views.sla, arguments)


@blp.route("/export.xlsx")
class Export(MethodView):
    @requires(*READERS)
    @blp.arguments(schemas.ExportQuerySchema, location="query")
    @blp.response(200, content_type=XLSX, description="the KPI table as an Excel workbook")
    def get(self, arguments: dict[str, Any]) -> Response:
        """Any KPI table as an .xlsx with Chinese headers and the filters written above it."""
        name = arguments.pop("kpi")
        query = kpi_query(arguments, current_principal())
        rows = runtimes.current().transaction(exports.TABLES[name].rows, query=query)
        body = exports.workbook(name, query, rows)
        filename = f"loanbridge-{name}-{query.start.isoformat()}-{query.end.isoformat()}.xlsx"
        return Response(body, mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
