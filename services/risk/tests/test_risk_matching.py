"""Plan matching (方案匹配): an application against a catalogue of 20 lender products returns exactly the
eligible ones, ranked, and names the failed criteria of every other one."""

from __future__ import annotations

from typing import Any

import pytest

API = "/api/risk/v1"
AGE = {"id": "AGE_22_55", "field": "age", "expression": "age >= 22 and age <= 55", "reason": "年龄须在22至55岁"}
INCOME = {"id": "INCOME_8000", "field": "monthly_income", "expression": "monthly_income >= 8000",
          "reason": "月收入不低于8000元"}  # fmt: skip
STABLE = {"id": "STABLE_EMPLOYER", "field": "employer_type",
          "expression": 'employer_type in ["government", "state_owned", "public_institution"]',
          "reason": "须为公务员、国企或事业单位"}  # fmt: skip
INQUIRIES = {"id": "INQUIRIES_6", "field": "credit_inquiries_3m", "expression": "credit_inquiries_3m <= 6",
             "reason": "近3个月征信查询不超过6次"}  # fmt: skip


def catalogue() -> list[dict[str, Any]]:
    """20 lender products: which ones a 35-year-old private-sector applicant for 200,000 over 24 months fits."""
    products = []
    for n in range(20):
        terms = {"products": ["credit"], "min_amount": 10_000, "max_amount": 500_000, "min_term": 6, "max_term": 36,
                 "rate_min": 0.05 + n / 1000, "rate_max": 0.18}  # fmt: skip
        criteria = [AGE, INCOME] if n % 2 == 0 else [AGE]
        if n % 5 == 0:
            criteria = [*criteria, STABLE]  # the applicant works for a private firm: fails
        if n == 7:
            terms["max_amount"] = 100_000  # too small
        if n == 11:
            terms["products"] = ["house"]  # does not take credit loans
        if n == 13:
            terms["cities"] = ["青岛"]
        if n == 17:
            criteria = [INQUIRIES]  # 8 inquiries: fails
        products.append({"code": f"lp{n:02d}", "lender": f"银行{n % 4}", "name": f"产品{n}", "terms": terms,
                         "criteria": criteria})  # fmt: skip
    return products


EXPECTED_INELIGIBLE = {"lp00": ["STABLE_EMPLOYER"], "lp05": ["STABLE_EMPLOYER"], "lp07": ["amount_range"],
                       "lp10": ["STABLE_EMPLOYER"], "lp11": ["product"], "lp13": ["city"], "lp15": ["STABLE_EMPLOYER"],
                       "lp17": ["INQUIRIES_6"]}  # fmt: skip


@pytest.fixture
def admin(tokens: Any) -> dict[str, str]:
    return tokens.header(subject="admin-1", roles=["admin"])


def test_matching_returns_exactly_the_eligible_products_ranked_and_explains_the_others(
    client: Any, admin: dict[str, str], sales: dict[str, str]
) -> None:
    for product in catalogue():
        assert client.post(f"{API}/lender-products", json=product, headers=admin).status_code == 201
    application = {"product": "credit", "amount": 200_000, "term_months": 24, "city": "济南",
                   "features": {"age": 35, "monthly_income": 12000, "employer_type": "private",
                                "credit_inquiries_3m": 8}}  # fmt: skip

    result = client.post(f"{API}/match", json=application, headers=sales).get_json()

    eligible = [entry["code"] for entry in result["eligible"]]
    assert eligible == sorted(f"lp{n:02d}" for n in range(20) if f"lp{n:02d}" not in EXPECTED_INELIGIBLE)
    assert [entry["rank"] for entry in result["eligible"]] == list(range(1, len(eligible) + 1))
    failed = {entry["code"]: [f["criterion"] for f in entry["failed"]] for entry in result["ineligible"]}
    assert failed == EXPECTED_INELIGIBLE
    stable = next(entry for entry in result["ineligible"] if entry["code"] == "lp05")["failed"][0]
    assert (stable["reason"], stable["inputs"]) == ("须为公务员、国企或事业单位", {"employer_type": "private"})


def test_an_unknown_value_fails_a_criterion_rather_than_passing_it(client: Any, admin: dict[str, str]) -> None:
    product = catalogue()[2]
    client.post(f"{API}/lender-products", json=product, headers=admin)

    result = client.post(f"{API}/match", json={"product": "credit", "amount": 50_000, "term_months": 12,
                                               "features": {"age": 30}}, headers=admin).get_json()  # fmt: skip

    assert result["eligible"] == []
    assert [f["criterion"] for f in result["ineligible"][0]["failed"]] == ["INCOME_8000"]


def test_a_change_to_a_lender_product_is_a_new_version(client: Any, admin: dict[str, str]) -> None:
    created = client.post(f"{API}/lender-products", json=catalogue()[1], headers=admin).get_json()

    changed = client.put(f"{API}/lender-products/{created['id']}",
                         json={"terms": {**created["terms"], "max_amount": 300_000}, "criteria": [AGE, INCOME]},
                         headers=admin).get_json()  # fmt: skip

    assert (created["version"], changed["version"]) == (1, 2)
    assert [c["id"] for c in changed["criteria"]] == ["AGE_22_55", "INCOME_8000"]
    assert changed["criteria"][1]["expression"] == "monthly_income >= 8000"


def test_a_criterion_on_an_unknown_field_or_with_a_broken_expression_is_422_naming_it(
    client: Any, admin: dict[str, str]
) -> None:
    product = {
        **catalogue()[1],
        "criteria": [{**AGE, "field": "salary"}, {**INCOME, "expression": "monthly_income >="}],
    }

    response = client.post(f"{API}/lender-products", json=product, headers=admin)

    assert response.status_code == 422
    assert set(response.get_json()["details"]["fields"]) == {"criteria[0].field", "criteria[1].expression"}
