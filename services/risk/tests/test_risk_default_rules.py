"""The default rule sets at their boundaries, through the dry-run API (the same evaluation submissions get)."""

from __future__ import annotations

from typing import Any

import pytest

from loanbridge.common.testing import harness

API = "/api/risk/v1"


def dry_run(client: Any, headers: dict[str, str], product: str = "house", documents: list[str] | None = None,
            **features: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"product": product, "features": features}
    if documents is not None:
        body["documents"] = documents
    response = client.post(f"{API}/evaluate", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def hit_ids(answer: dict[str, Any]) -> set[str]:
    return {hit["rule_id"] for hit in answer["hits"]}


@pytest.mark.parametrize("product", ["house", "credit", "car"])
@pytest.mark.parametrize(("inquiries", "flagged"), [(10, False), (11, True)])
def test_more_than_10_credit_inquiries_in_3_months_flags_high_risk(
    client: Any, officer: dict[str, str], product: str, inquiries: int, flagged: bool
) -> None:
    answer = dry_run(client, officer, product, credit_inquiries_3m=inquiries)

    assert ("high_risk" in answer["flags"]) is flagged
    if flagged:
        hit = next(h for h in answer["hits"] if h["rule_id"] == "FLAG_CREDIT_INQUIRIES")
        assert hit["inputs"] == {"credit_inquiries_3m": 11}
        assert hit["reason"] == "近3个月征信查询次数超过10次"


@pytest.mark.parametrize("product", ["house", "credit", "car"])
@pytest.mark.parametrize(("debt", "routed"), [(7000, False), (7100, True)])
def test_a_debt_ratio_over_0_70_routes_to_the_risk_director(
    client: Any, officer: dict[str, str], product: str, debt: int, routed: bool
) -> None:
    answer = dry_run(client, officer, product, monthly_income=10000, monthly_debt_payment=debt, overdue_count_24m=0,
                     credit_inquiries_3m=1)  # fmt: skip

    assert ("ROUTE_DEBT_RATIO" in hit_ids(answer)) is routed
    if routed:
        assert (answer["decision"], answer["route_to"]) == ("review", "risk_director")
        hit = next(h for h in answer["hits"] if h["rule_id"] == "ROUTE_DEBT_RATIO")
        assert hit["inputs"] == {"debt_ratio": 0.71}
    else:
        assert answer["decision"] == "approve"


def test_a_score_of_59_rejects_into_the_rejected_pool_and_60_does_not(client: Any, officer: dict[str, str]) -> None:
    # 60 + 4 (3-6 inquiries) - 5 (1-2 overdue) + 0 (debt ratio 0.6) = 59
    low = dry_run(client, officer, credit_inquiries_3m=4, overdue_count_24m=1, debt_ratio=0.6)
    # 60 + 0 (7-10 inquiries) - 5 (1-2 overdue) + 5 (debt ratio 0.3-0.5) = 60
    enough = dry_run(client, officer, credit_inquiries_3m=8, overdue_count_24m=1, debt_ratio=0.4)

    assert (low["score"], low["decision"], "REJECT_SCORE" in hit_ids(low)) == (59, "reject", True)
    assert low["reasons"] == ["综合评分低于60分"]
    assert low["supplement_required"] is False
    assert (enough["score"], enough["decision"], "REJECT_SCORE" in hit_ids(enough)) == (60, "approve", False)


def test_a_pre_screen_missing_a_required_document_is_rejected_for_supplement_naming_it(
    client: Any, officer: dict[str, str], risk: Any, new_event: Any
) -> None:
    announced = {"product": "house", "form_version": 1, "risk_features": [],
                 "required_documents": ["id_card", "credit_report", "property_certificate"]}  # fmt: skip
    harness.deliver([new_event("intake.product.published", announced)], risk.runtime)

    answer = dry_run(client, officer, "house", documents=["id_card"], credit_inquiries_3m=1, overdue_count_24m=0)

    assert (answer["decision"], answer["reasons"], answer["supplement_required"]) == ("reject", ["补充材料"], True)
    assert answer["missing_documents"] == ["credit_report", "property_certificate"]
    hit = next(h for h in answer["hits"] if h["rule_id"] == "REJECT_MISSING_DOCUMENTS")
    assert hit["inputs"] == {"missing_documents": ["credit_report", "property_certificate"]}


def test_a_blacklisted_person_is_rejected_whatever_else_is_true(client: Any, officer: dict[str, str]) -> None:
    answer = dry_run(client, officer, blacklisted=True, credit_inquiries_3m=0, overdue_count_24m=0, debt_ratio=0.1)

    assert (answer["decision"], answer["reasons"]) == ("reject", ["黑名单客户"])


def test_reject_beats_review_beats_approve_and_every_deciding_rule_is_listed(
    client: Any, officer: dict[str, str]
) -> None:
    both = dry_run(client, officer, debt_ratio=0.75, blacklisted=True)
    # 60 + 10 (ltv 0.25) + 5 (intent A) - 10 (debt ratio) - 15 (4 overdues) = 50... plus 10 (1 inquiry) = 60
    review = dry_run(client, officer, debt_ratio=0.75, overdue_count_24m=4, credit_inquiries_3m=1, intent_level="A",
                     amount=500_000, property_valuation=2_000_000, existing_mortgage_balance=0)  # fmt: skip

    assert both["decision"] == "reject" and both["route_to"] is None
    assert {"ROUTE_DEBT_RATIO", "REJECT_BLACKLISTED"} <= hit_ids(both)
    assert (review["decision"], review["route_to"]) == ("review", "risk_director")
    assert {"ROUTE_DEBT_RATIO", "ROUTE_OVERDUE"} <= hit_ids(review)


@pytest.mark.parametrize(
    ("features", "rule"),
    [
        ({"property_valuation": 1_000_000, "existing_mortgage_balance": 400_000}, "REJECT_LTV"),  # (400k+500k)/1m
        ({"property_valuation": 1_000_000, "existing_mortgage_balance": 250_000}, "ROUTE_LTV"),  # 0.75
        ({"overdue_count_24m": 6}, "REJECT_OVERDUE"),
        ({"age": 21}, "REJECT_AGE"),
        ({"age": 61}, "REJECT_AGE"),
    ],
)
def test_house_product_rules_on_loan_to_value_overdues_and_age(
    client: Any, officer: dict[str, str], features: dict[str, Any], rule: str
) -> None:
    answer = dry_run(client, officer, "house", amount=500_000, **features)

    assert rule in hit_ids(answer)


def test_car_and_credit_have_their_own_product_rules(client: Any, officer: dict[str, str]) -> None:
    old_car = dry_run(client, officer, "car", vehicle_age_years=11)
    low_income = dry_run(client, officer, "credit", monthly_income=2500)
    ages = [dry_run(client, officer, "car", age=age)["decision"] for age in (18, 65, 66)]

    assert "REJECT_VEHICLE_AGE" in hit_ids(old_car)
    assert "REJECT_INCOME" in hit_ids(low_income)
    assert ages == ["approve", "approve", "reject"]


def test_an_unknown_feature_is_422_naming_it(client: Any, officer: dict[str, str]) -> None:
    response = client.post(f"{API}/evaluate", json={"product": "house", "features": {"salary": 1}}, headers=officer)

    assert response.status_code == 422
    assert "features.salary" in response.get_json()["details"]["fields"]


def test_partners_may_pre_screen_and_nothing_is_stored(client: Any, tokens: Any, risk: Any) -> None:
    partner = tokens.header(subject="p_rongtong", roles=["partner"], partner_id="p1")

    answer = dry_run(client, partner, "credit", monthly_income=20000, credit_inquiries_3m=1)
    listed = client.get(f"{API}/evaluations", headers=tokens.header(roles=["admin"])).get_json()

    assert answer["decision"] == "approve" and answer["ruleset_version"] == 1
    assert listed["items"] == []
