"""Inputs the rule engine cannot evaluate (numbers past its decimal range, NaN, infinity) and oversized versions:
a 422 naming the field from the API, a file for a person from an event, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from loanbridge.common.events.inbox import Outcome

API = "/api/risk/v1"
TOO_LARGE = [10**30, 1e300, 2**72]


@pytest.fixture
def admin(tokens: Any) -> dict[str, str]:
    return tokens.header(subject="admin-1", roles=["admin"])


@pytest.mark.parametrize("value", TOO_LARGE)
def test_a_dry_run_with_a_number_past_the_engines_range_is_422_naming_the_feature(
    client: Any, officer: dict[str, str], value: Any
) -> None:
    answer = client.post(
        f"{API}/evaluate", json={"product": "house", "features": {"monthly_income": value}}, headers=officer
    )

    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["code"] == "number_out_of_range"
    assert list(answer.get_json()["details"]["fields"]) == ["features.monthly_income"]


def test_a_dry_run_with_nan_is_422(client: Any, officer: dict[str, str]) -> None:
    body = '{"product": "house", "features": {"monthly_income": NaN}}'
    answer = client.post(f"{API}/evaluate", data=body, content_type="application/json", headers=officer)

    assert answer.status_code == 422


def test_matching_with_an_amount_or_feature_past_the_engines_range_is_422(client: Any, admin: dict[str, str]) -> None:
    base = {"product": "credit", "amount": 200_000, "term_months": 24}
    too_large_amount = client.post(f"{API}/match", json={**base, "amount": 1e300}, headers=admin)
    too_large_feature = client.post(f"{API}/match", json={**base, "features": {"age": 10**30}}, headers=admin)

    assert too_large_amount.status_code == 422
    assert "amount" in too_large_amount.get_json()["details"]["fields"]
    assert too_large_feature.status_code == 422
    assert "features.age" in too_large_feature.get_json()["details"]["fields"]


def test_a_submission_with_a_number_past_the_engines_range_goes_to_a_person_instead_of_failing(
    submit: Any, submission: Any, evaluated: Any
) -> None:
    outcomes, published = submit(submission(features={"monthly_income": 10**30}))

    assert outcomes == [Outcome.APPLIED]
    result = evaluated(published)
    assert result["decision"] == "review"
    assert [hit["rule_id"] for hit in result["hits"]] == ["MODEL_ERROR"]


def test_simulating_a_version_past_any_stored_one_is_422_not_a_database_error(
    client: Any, director: dict[str, str]
) -> None:
    answer = client.post(f"{API}/rulesets/house/simulate", json={"version": 2**63}, headers=director)

    assert answer.status_code == 422
    assert "version" in answer.get_json()["details"]["fields"]


def test_reading_a_ruleset_version_past_any_integer_column_is_422_not_a_database_error(
    client: Any, director: dict[str, str]
) -> None:
    # Found by `make fuzz`: ?version=2**63 reached SQLite and failed with OverflowError (a 500).
    answer = client.get(f"{API}/rulesets/house", query_string={"version": 2**63}, headers=director)

    assert answer.status_code == 422, answer.get_json()
    assert "version" in answer.get_json()["details"]["fields"]
