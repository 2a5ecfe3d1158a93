"""List filters at the ends of the calendar: a day with no business-day bounds is a 422 naming it, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/intake/v1"


@pytest.mark.parametrize("path", ["leads", "customers"])
@pytest.mark.parametrize(("name", "day"), [("to", "9999-12-31"), ("from", "0001-01-01"), ("from", "1899-12-31")])
def test_a_day_filter_outside_the_calendar_is_422_naming_it(
    client: Any, admin_headers: dict[str, str], path: str, name: str, day: str
) -> None:
    answer = client.get(f"{API}/{path}", query_string={name: day}, headers=admin_headers)

    assert answer.status_code == 422, answer.get_json()
    assert name in answer.get_json()["details"]["fields"]


def test_day_filters_across_the_centuries_still_answer(client: Any, admin_headers: dict[str, str]) -> None:
    answer = client.get(
        f"{API}/customers", query_string={"from": "1900-01-01", "to": "9999-12-30"}, headers=admin_headers
    )

    assert answer.status_code == 200
    assert answer.get_json()["items"] == []
