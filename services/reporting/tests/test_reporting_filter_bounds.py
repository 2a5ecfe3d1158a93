"""KPI filters at the ends of the calendar: a day with no business-day bounds is a 422 naming it, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/reporting/v1"


@pytest.mark.parametrize("path", ["kpis", "leaderboard", "trends", "export.xlsx?kpi=conversion"])
@pytest.mark.parametrize(("name", "day"), [("to", "9999-12-31"), ("from", "0001-01-01")])
def test_a_day_filter_outside_the_calendar_is_422_naming_it(
    reporting: Any, admin_headers: dict[str, str], path: str, name: str, day: str
) -> None:
    # Found by `make fuzz`: /leaderboard?to=9999-12-31 failed with "date value out of range" (a 500).
    separator = "&" if "?" in path else "?"
    answer = reporting.client().get(f"{API}/{path}{separator}{name}={day}", headers=admin_headers)

    assert answer.status_code == 422, answer.get_json()
    assert name in answer.get_json()["details"]["fields"]


@pytest.mark.parametrize("days", ["from=1900-01-01&to=1900-12-31", "from=9999-01-01&to=9999-12-30"])
def test_the_first_and_last_days_a_filter_takes_still_answer(
    reporting: Any, admin_headers: dict[str, str], days: str
) -> None:
    answer = reporting.client().get(f"{API}/leaderboard?{days}", headers=admin_headers)

    assert answer.status_code == 200, answer.get_json()
