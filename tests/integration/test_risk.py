"""risk in the distributed mode: a lead submitted through intake is evaluated from its event, the result comes
back to intake's customer 360 (latest result and grade), and staff read the evaluation as a checklist."""

from __future__ import annotations

import io
import random
from typing import Any

from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import Api, Stack, password_token, register_partner

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CREDIT_FORM = {"employer_type": "state_owned", "social_security_months": 48, "monthly_income": 20000,
               "monthly_debt_payment": 15000, "credit_inquiries_3m": 12, "overdue_count_24m": 0}  # fmt: skip


def staff(admin: Api, stack: Stack, username: str, roles: list[str]) -> Api:
    created = admin.post("/api/identity/v1/users", json={"username": username, "password": "staff-pass-123",
                                                          "display_name": username, "roles": roles})  # fmt: skip
    assert created.status_code == 201, created.text
    return Api(stack.gateway, password_token(stack.gateway, username, "staff-pass-123"))


def latest_evaluation(sales: Api, customer_id: str) -> dict[str, Any] | None:
    customer = sales.get(f"/api/intake/v1/customers/{customer_id}").json()
    evaluation = customer["leads"][0].get("evaluation")
    return {"evaluation": evaluation, "grade": customer.get("grade")} if evaluation else None


def test_a_submitted_lead_is_evaluated_and_its_result_and_grade_reach_the_customer_360(
    stack: Stack, admin: Api
) -> None:
    sales = staff(admin, stack, "sales.risk", ["sales"])
    officer = staff(admin, stack, "officer.risk", ["risk_officer"])
    body = {**leads.lead(random.Random(61), product="credit", amount=200_000, term_months=24),
            "channel": "douyin", "form": CREDIT_FORM}  # fmt: skip
    lead = sales.post("/api/intake/v1/leads", json=body)
    assert lead.status_code == 201, lead.text
    lead_id, customer_id = lead.json()["id"], lead.json()["customer_id"]
    for doc_type in ("id_card", "credit_report", "bank_statement", "income_proof"):
        uploaded = sales.post(f"/api/intake/v1/leads/{lead_id}/documents", data={"doc_type": doc_type},
                              files={"file": (f"{doc_type}.pdf", io.BytesIO(PDF), "application/pdf")})  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text

    assert sales.post(f"/api/intake/v1/leads/{lead_id}/submit").status_code == 201
    seen = wait_until(lambda: latest_evaluation(sales, customer_id), timeout=30, message="evaluation in the 360")

    evaluation = seen["evaluation"]
    assert (evaluation["decision"], evaluation["route_to"]) == ("review", "risk_director")  # debt ratio 0.75
    assert evaluation["flags"] == ["high_risk"]  # 12 inquiries
    assert evaluation["ruleset_version"] == 1
    assert seen["grade"] in ("A", "B", "C")
    listed = officer.get(f"/api/risk/v1/evaluations?lead_id={lead_id}").json()["items"]
    assert [item["id"] for item in listed] == [evaluation["evaluation_id"]]
    detail = officer.get(f"/api/risk/v1/evaluations/{evaluation['evaluation_id']}").json()
    checked = {item["rule_id"]: item for item in detail["checklist"]}
    assert checked["ROUTE_DEBT_RATIO"]["hit"] and checked["ROUTE_DEBT_RATIO"]["inputs"] == {"debt_ratio": 0.75}
    assert checked["FLAG_CREDIT_INQUIRIES"]["inputs"] == {"credit_inquiries_3m": 12}
    assert not checked["REJECT_MISSING_DOCUMENTS"]["hit"]


def test_a_submission_missing_documents_comes_back_rejected_for_supplement_naming_them(
    stack: Stack, admin: Api
) -> None:
    sales = staff(admin, stack, "sales.supplement", ["sales"])
    body = {**leads.lead(random.Random(67), product="credit"), "channel": "douyin",
            "form": {**CREDIT_FORM, "monthly_debt_payment": 2000, "credit_inquiries_3m": 1}}  # fmt: skip
    lead = sales.post("/api/intake/v1/leads", json=body).json()

    assert sales.post(f"/api/intake/v1/leads/{lead['id']}/submit").status_code == 201
    seen = wait_until(lambda: latest_evaluation(sales, lead["customer_id"]), timeout=30, message="evaluation")

    evaluation = seen["evaluation"]
    assert evaluation["decision"] == "reject"
    assert evaluation["missing_documents"] == ["id_card", "credit_report", "bank_statement", "income_proof"]
    assert {"rule": "REJECT_MISSING_DOCUMENTS", "reason": "补充材料"} in evaluation["hits"]


def test_a_partner_pre_screens_an_application_through_the_gateway(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "预审合作方")

    answer = partner.api.post(
        "/api/risk/v1/evaluate", json={"product": "house", "features": {"credit_inquiries_3m": 11}}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["flags"] == ["high_risk"]
