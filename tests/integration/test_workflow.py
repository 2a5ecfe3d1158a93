"""The loan lifecycle across services in the distributed mode, all from events, through the gateway: a lead is
assigned to the salesperson who entered it, its submission is rejected by risk for 补充材料, the owner gets a
supplement task naming what is missing, uploads it and resubmits, risk approves, and the case reaches 方案匹配."""

from __future__ import annotations

import io
import random
from typing import Any

from loanbridge.common.pii.validators import id_check_char
from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import Api, Stack, password_token

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SOUND_CREDIT_FORM = {"employer_type": "state_owned", "social_security_months": 48, "monthly_income": 20000,
                     "monthly_debt_payment": 2000, "credit_inquiries_3m": 1, "overdue_count_24m": 0}  # fmt: skip
DOCUMENTS = ("id_card", "credit_report", "bank_statement", "income_proof")


def salesperson(stack: Stack, admin: Api, username: str) -> tuple[str, Api]:
    body = {"username": username, "password": "staff-pass-123", "display_name": "刘业务", "roles": ["sales"]}
    created = admin.post("/api/identity/v1/users", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"], Api(stack.gateway, password_token(stack.gateway, username, "staff-pass-123"))


def case_of(sales: Api, lead_id: str, **expected: Any) -> dict[str, Any] | None:
    answer = sales.get(f"/api/workflow/v1/cases/{lead_id}")
    if answer.status_code != 200:
        return None
    case = answer.json()
    return case if all(case.get(name) == value for name, value in expected.items()) else None


def open_tasks(sales: Api, case_id: str, kind: str) -> list[dict[str, Any]]:
    items = sales.get("/api/workflow/v1/tasks").json()["items"]
    return [task for task in items if task["case_id"] == case_id and task["kind"] == kind]


def upload(sales: Api, lead_id: str, doc_type: str) -> None:
    answer = sales.post(f"/api/intake/v1/leads/{lead_id}/documents", data={"doc_type": doc_type},
                        files={"file": (f"{doc_type}.pdf", io.BytesIO(PDF), "application/pdf")})  # fmt: skip
    assert answer.status_code == 201, answer.text


def test_a_lead_goes_from_assignment_through_a_supplement_to_plan_matching_all_from_events(
    stack: Stack, admin: Api
) -> None:
    user_id, sales = salesperson(stack, admin, "sales.journey")
    born_1985 = "37010219850612123"  # 41 years old: inside every product's age limits
    person = {
        **leads.lead(random.Random(71), product="credit", amount=150_000, term_months=24),
        "id_number": born_1985 + id_check_char(born_1985),
        "channel": "douyin",
        "form": SOUND_CREDIT_FORM,
    }
    lead = sales.post("/api/intake/v1/leads", json=person)
    assert lead.status_code == 201, lead.text
    lead_id = lead.json()["id"]

    assigned = wait_until(lambda: case_of(sales, lead_id, stage="assigned"), timeout=30, message="case assigned")
    assert assigned["assignee_id"] == user_id

    upload(sales, lead_id, "id_card")
    assert sales.post(f"/api/intake/v1/leads/{lead_id}/submit").status_code == 201
    supplement = wait_until(lambda: open_tasks(sales, lead_id, "supplement"), timeout=30, message="supplement task")
    assert supplement[0]["assignee_id"] == user_id
    assert set(supplement[0]["details"]["missing_documents"]) == {"credit_report", "bank_statement", "income_proof"}
    assert case_of(sales, lead_id)["stage"] == "assigned"

    for doc_type in DOCUMENTS[1:]:
        upload(sales, lead_id, doc_type)
    assert sales.post(f"/api/intake/v1/leads/{lead_id}/submit").status_code == 201

    matched = wait_until(lambda: case_of(sales, lead_id, stage="plan_matching"), timeout=30, message="plan_matching")
    assert matched["assignee_id"] == user_id
    assert wait_until(lambda: not open_tasks(sales, lead_id, "supplement"), timeout=10, message="supplement done")
    history = sales.get(f"/api/workflow/v1/cases/{lead_id}/history").json()
    stages = [entry["to"] for entry in history["items"] if entry["kind"] == "stage"]
    assert stages == ["assigned", "pre_review", "assigned", "pre_review", "plan_matching"]
    customer = sales.get(f"/api/intake/v1/customers/{lead.json()['customer_id']}").json()
    assert wait_until(lambda: sales.get(f"/api/intake/v1/customers/{customer['id']}").json()["leads"][0]["stage"]
                      == "plan_matching", timeout=10, message="the 360 shows the stage")  # fmt: skip
