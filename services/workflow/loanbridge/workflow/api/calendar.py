"""The business calendar: the firm's overrides of the statutory calendar (admins), and how a day counts."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.views import MethodView

from loanbridge.common import runtime as runtimes
from loanbridge.common.app import Blueprint
from loanbridge.common.auth import current_principal, requires
from loanbridge.common.errors import InvalidInput
from loanbridge.workflow.api.schemas import (
    OverrideListSchema,
    OverrideQuerySchema,
    OverrideSchema,
    OverrideWriteSchema,
    WorkingDaySchema,
)
from loanbridge.workflow.handlers import calendar

blp = Blueprint("calendar", __name__, url_prefix="/api/workflow/v1", description="Business calendar")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput.for_field("day", "日期格式应为 YYYY-MM-DD") from exc


@blp.route("/calendar/overrides")
class Overrides(MethodView):
    @requires()
    @blp.arguments(OverrideQuerySchema, location="query")
    @blp.response(200, OverrideListSchema)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The firm's own rulings on days (of one year, when given)."""
        return {"items": runtimes.current().transaction(calendar.list_overrides, year=query["year"])}


@blp.route("/calendar/overrides/<day>")
class Override(MethodView):
    @requires("admin")
    @blp.arguments(OverrideWriteSchema)
    @blp.response(200, OverrideSchema)
    def put(self, body: dict[str, Any], day: str) -> dict[str, Any]:
        """Declare a day working (a make-up Saturday) or not (a company holiday)."""
        return runtimes.current().transaction(
            calendar.set_override, principal=current_principal(), day=_day(day), working=body["working"],
            note=body["note"],
        )  # fmt: skip

    @requires("admin")
    @blp.response(204)
    def delete(self, day: str) -> None:
        """Return a day to the statutory calendar."""
        runtimes.current().transaction(calendar.delete_override, day=_day(day))


@blp.route("/calendar/days/<day>")
class Day(MethodView):
    @requires()
    @blp.response(200, WorkingDaySchema)
    def get(self, day: str) -> dict[str, Any]:
        """Whether the firm works on a day, as SLA clocks count it."""
        return runtimes.current().transaction(calendar.working_day, day=_day(day))
