"""Component tests of submitting an application: what ``intake.application.submitted`` tells risk (amount, term,
channel, city, risk features with age and blacklisted, documents present and required, missing fields), with no
personal data, and only for leads in the caller's scope."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.testing import harness

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
HOUSE_REQUIRED_DOCUMENTS = ["id_card", "credit_report", "bank_statement", "property_certificate"]
PERSONAL_VALUES = ("张三丰", "张**", "13812345678", "138****5678", "370102198506121239", "历下区泉城路1号")
COMPLETE_HOUSE_FORM = {
    "property_city": "济南",
    "property_address": "历下区泉城路1号",
    "property_area": 120,
    "property_valuation": 2000000,
    "existing_mortgage_balance": 300000,
    "monthly_income": 20000,
    "monthly_debt_payment": 3000,
    "credit_inquiries_3m": 2,
    "overdue_count_24m": 0,
}


def upload(client: Any, lead_id: str, doc_type: str, headers: dict[str, str]) -> None:
    response = client.post(
        f"{API}/leads/{lead_id}/documents",
        data={"doc_type": doc_type, "file": (io.BytesIO(PDF), f"{doc_type}.pdf")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()


def submitted(intake: harness.ServiceUnderTest) -> list[Any]:
    return [event for event in harness.drain_outbox(intake.runtime) if event.type == "intake.application.submitted"]


def test_submission_emits_the_review_facts_with_features_documents_and_missing_fields_and_no_personal_data(
    intake: harness.ServiceUnderTest, client: Any, tokens: harness.TokenFactory, new_lead: LeadBuilder
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))):
        headers = tokens.header(subject="sales-zhang", roles=["sales"], team_id="team-jinan-1")
        lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers).get_json()
        upload(client, lead["id"], "credit_report", headers)
        upload(client, lead["id"], "id_card", headers)
        upload(client, lead["id"], "credit_report", headers)
        harness.drain_outbox(intake.runtime)

        response = client.post(f"{API}/leads/{lead['id']}/submit", headers=headers)
        customer = client.get(f"{API}/customers/{lead['customer_id']}", headers=headers).get_json()

    assert response.status_code == 201, response.get_json()
    [event] = submitted(intake)
    assert (event.subject, event.routing_key, event.source) == (lead["id"], "intake.application.submitted.v1", "intake")
    assert event.data == {
        "lead_id": lead["id"],
        "customer_id": lead["customer_id"],
        "product": "house",
        "form_version": 1,
        "amount": 500000,
        "term_months": 36,
        "channel": "douyin",
        "city": "济南",
        # The form's risk features (not the address, city or area), and the derived age and blacklisted.
        "features": {
            "property_valuation": 2000000,
            "monthly_income": 20000,
            "monthly_debt_payment": 3000,
            "age": 40,
            "blacklisted": False,
        },
        "documents": ["credit_report", "id_card"],
        "required_documents": HOUSE_REQUIRED_DOCUMENTS,
        "missing_fields": ["existing_mortgage_balance", "credit_inquiries_3m", "overdue_count_24m"],
    }
    raw = event.to_json()
    for value in PERSONAL_VALUES:
        assert value not in raw, value
    answer = response.get_json()
    assert {name: answer[name] for name in event.data} == event.data
    assert datetime.fromisoformat(answer["submitted_at"]) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert datetime.fromisoformat(customer["leads"][0]["submitted_at"]) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_complete_application_names_no_missing_field(
    intake: harness.ServiceUnderTest, client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    lead = client.post(
        f"{API}/leads", json=new_lead(channel="douyin", form=COMPLETE_HOUSE_FORM), headers=sales_headers
    ).get_json()

    client.post(f"{API}/leads/{lead['id']}/submit", headers=sales_headers)

    [event] = submitted(intake)
    assert event.data["missing_fields"] == []
    assert event.data["documents"] == []
    assert event.data["features"]["existing_mortgage_balance"] == 300000
    assert (event.data["features"]["credit_inquiries_3m"], event.data["features"]["overdue_count_24m"]) == (2, 0)


@pytest.mark.parametrize(
    ("instant", "age"),
    [
        (datetime(2026, 6, 11, 15, 59, 59, tzinfo=UTC), 40),  # 23:59:59 on 11 June in Shanghai
        (datetime(2026, 6, 11, 16, 0, 0, tzinfo=UTC), 41),  # midnight of the 41st birthday in Shanghai
        (datetime(2026, 6, 12, 15, 59, 59, tzinfo=UTC), 41),
    ],
    ids=["eve_of_the_birthday", "birthday_in_business_time", "end_of_the_birthday"],
)
def test_age_comes_from_the_id_number_on_the_business_day_of_submission(
    intake: harness.ServiceUnderTest,
    client: Any,
    tokens: harness.TokenFactory,
    new_lead: LeadBuilder,
    instant: datetime,
    age: int,
) -> None:
    with use_clock(FixedClock(datetime(2026, 1, 5, 2, 0, tzinfo=UTC))) as fixed:
        headers = tokens.header(subject="sales-zhang", roles=["sales"])
        lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers).get_json()
        fixed.set(instant)
        response = client.post(
            f"{API}/leads/{lead['id']}/submit", headers=tokens.header(subject="sales-zhang", roles=["sales"])
        )

    assert response.status_code == 201
    assert submitted(intake)[0].data["features"]["age"] == age


def test_without_an_id_number_age_is_unknown(
    intake: harness.ServiceUnderTest, client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin", id_number=None), headers=sales_headers)

    client.post(f"{API}/leads/{lead.get_json()['id']}/submit", headers=sales_headers)

    assert submitted(intake)[0].data["features"]["age"] is None


@pytest.mark.parametrize(
    "entry",
    [{"id_number": "370102198506121239"}, {"mobile": "138 1234 5678"}],
    ids=["by_id_number", "by_mobile"],
)
def test_blacklisted_is_true_once_a_risk_officer_blacklists_the_person_and_false_after_removal(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    risk_headers: dict[str, str],
    new_lead: LeadBuilder,
    entry: dict[str, str],
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    other = client.post(
        f"{API}/blacklist", json={"id_number": "370202199003054564", "reason": "冒用身份"}, headers=risk_headers
    )
    assert other.status_code == 201
    client.post(f"{API}/leads/{lead['id']}/submit", headers=sales_headers)
    blacklisted = client.post(f"{API}/blacklist", json={**entry, "reason": "伪造流水"}, headers=risk_headers)
    client.post(f"{API}/leads/{lead['id']}/submit", headers=sales_headers)
    client.delete(f"{API}/blacklist/{blacklisted.get_json()['id']}", headers=risk_headers)
    client.post(f"{API}/leads/{lead['id']}/submit", headers=sales_headers)

    assert blacklisted.status_code == 201
    assert [event.data["features"]["blacklisted"] for event in submitted(intake)] == [False, True, False]


def test_a_lead_outside_the_callers_scope_is_404_and_emits_nothing(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    partner: dict[str, Any],
    other_partner: dict[str, Any],
    new_lead: LeadBuilder,
) -> None:
    staff_lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    partner_lead = client.post(
        f"{API}/leads", json=new_lead(external_ref="RT-1", mobile="13905310000", id_number=None),
        headers=partner["headers"],
    ).get_json()  # fmt: skip
    harness.drain_outbox(intake.runtime)

    by_other_sales = client.post(f"{API}/leads/{staff_lead['id']}/submit", headers=other_sales_headers)
    by_other_partner = client.post(f"{API}/leads/{partner_lead['id']}/submit", headers=other_partner["headers"])
    by_partner_on_staff_lead = client.post(f"{API}/leads/{staff_lead['id']}/submit", headers=partner["headers"])
    unknown = client.post(f"{API}/leads/no-such-lead/submit", headers=sales_headers)

    assert by_other_sales.status_code == by_other_partner.status_code == by_partner_on_staff_lead.status_code == 404
    assert unknown.status_code == 404
    assert "13812345678" not in by_other_sales.get_data(as_text=True)
    assert harness.drain_outbox(intake.runtime) == []
    own = client.post(f"{API}/leads/{partner_lead['id']}/submit", headers=partner["headers"])
    assert own.status_code == 201
    assert [event.data["channel"] for event in submitted(intake)] == [partner["channel"]]


def test_an_erased_customers_lead_cannot_be_submitted(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    admin_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    client.delete(f"{API}/customers/{lead['customer_id']}", headers=admin_headers)
    harness.drain_outbox(intake.runtime)

    response = client.post(f"{API}/leads/{lead['id']}/submit", headers=admin_headers)

    assert (response.status_code, response.get_json()["code"]) == (409, "customer_erased")
    assert harness.drain_outbox(intake.runtime) == []
