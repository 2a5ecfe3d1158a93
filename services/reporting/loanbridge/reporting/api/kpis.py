"""``GET /api/reporting/v1/kpis``: the firm's numbers, by channel and product, over business days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from marshmallow import ValidationError, fields, validates_schema

from loanbridge.common import clock
from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import requires
from loanbridge.common.errors import InvalidInput
from loanbridge.common.schemas import BaseSchema
from loanbridge.reporting import views

blp = Blueprint("kpis", __name__, url_prefix="/api/reporting/v1", description="KPIs")

DEFAULT_DAYS = 30
MAX_DAYS = 3660


class KpiQuerySchema(BaseSchema):
    from_ = fields.Date(data_key="from", metadata={"description": "first business day (default: 30 days ago)"})
    to = fields.Date(metadata={"description": "last business day, inclusive (default: today)"})
    channel = fields.String()
    product = fields.String()
    city = fields.String()
    team_id = fields.String()

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ValidationError("开始日期不能晚于结束日期", field_name="from")


class KpiRowSchema(BaseSchema):
    channel = fields.String(required=True)
    product = fields.String(required=True)
    leads = fields.Integer(required=True)
    amount = fields.Float(required=True, metadata={"description": "sum of the leads' requested amounts (yuan)"})


class KpiAnswerSchema(BaseSchema):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    rows = fields.List(fields.Nested(KpiRowSchema), required=True)


@blp.route("/kpis")
class Kpis(MethodView):
    @requires("admin", "manager", "ops")
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, KpiAnswerSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Leads per channel and product over a range of business days, with optional filters."""
        end = query.get("to") or clock.business_date(clock.now())
        start = query.get("from_") or end - timedelta(days=DEFAULT_DAYS - 1)
        if (end - start).days > MAX_DAYS:
            raise InvalidInput.for_field("from", "查询范围不能超过 10 年")
        rows = runtimes.current().transaction(views.lead_kpis, start=start, end=end, filters=query)
        return {"from_": start, "to": end, "rows": rows}
