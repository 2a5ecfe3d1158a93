"""Component tests of the events intake writes to its outbox, and of its resync snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loanbridge.common.testing import harness
from loanbridge.intake.service import SERVICE

API = "/api/intake/v1"
LEAD_FIELDS = {
    "lead_id",
    "customer_id",
    "product",
    "amount",
    "term_months",
    "purpose",
    "channel",
    "partner_id",
    "city",
    "submitted_by",
    "duplicate_outcome",
    "features",
}
CUSTOMER_FIELDS = {"customer_id", "masked_name", "city", "channel"}
PERSONAL_VALUES = ("张三丰", "13812345678", "370102198506121239", "济南某某机械厂")


def test_lead_and_customer_created_events_carry_the_catalog_fields_and_no_personal_data(
    intake: Any,
    client: Any,
    partner: dict[str, Any],
    sales_headers: dict[str, str],
    new_lead: Callable[..., dict[str, Any]],
) -> None:
    by_partner = client.post(f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"]).get_json()
    credit_form = {"employer_type": "private", "employer_name": "济南某某机械厂", "monthly_income": 12000}
    by_staff = client.post(
        f"{API}/leads",
        json=new_lead(channel="douyin", product="credit", amount=88000.5, form=credit_form),
        headers=sales_headers,
    ).get_json()

    events = harness.drain_outbox(intake.runtime)

    customers = [e for e in events if e.type == "intake.customer.created"]
    leads = [e for e in events if e.type == "intake.lead.created"]
    assert len(customers) == 1
    assert customers[0].subject == by_partner["customer_id"]
    assert set(customers[0].data) >= CUSTOMER_FIELDS
    assert customers[0].data["masked_name"] == "张**"
    assert customers[0].data["channel"] == partner["channel"]
    assert [e.subject for e in leads] == [by_partner["id"], by_staff["id"]]
    for event in leads:
        assert set(event.data) >= LEAD_FIELDS
        assert event.routing_key == "intake.lead.created.v1"
        assert event.source == "intake"
        assert event.sequence == 1
    partner_lead, staff_lead = (e.data for e in leads)
    assert partner_lead["lead_id"] == by_partner["id"]
    assert partner_lead["customer_id"] == by_partner["customer_id"]
    assert (partner_lead["product"], partner_lead["amount"], partner_lead["term_months"]) == ("house", 500000, 36)
    assert partner_lead["purpose"] == "经营周转"
    assert partner_lead["channel"] == partner["channel"]
    assert partner_lead["partner_id"] == partner["partner_id"]
    assert partner_lead["city"] == "济南"
    assert partner_lead["submitted_by"] == partner["subject"]
    assert partner_lead["duplicate_outcome"] == "new_customer"
    # The form's risk features only: not the address (x-pii), not the city or area (plain fields).
    assert partner_lead["features"] == {
        "property_valuation": 2000000,
        "monthly_income": 20000,
        "monthly_debt_payment": 3000,
    }
    assert staff_lead["partner_id"] is None
    assert staff_lead["submitted_by"] == "sales-zhang"
    assert staff_lead["duplicate_outcome"] == "pool_customer"
    assert (staff_lead["product"], staff_lead["amount"]) == ("credit", 88000.5)
    for event in events:
        raw = event.to_json()
        for value in PERSONAL_VALUES:
            assert value not in raw, (event.type, value)
        assert not {"name", "mobile", "id_number"} & set(event.data)


def test_a_replayed_or_refused_lead_publishes_nothing(
    intake: Any, client: Any, partner: dict[str, Any], new_lead: Callable[..., dict[str, Any]]
) -> None:
    client.post(f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"])
    harness.drain_outbox(intake.runtime)

    client.post(f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"])
    client.post(f"{API}/leads", json=new_lead(external_ref="RT-1", amount=1), headers=partner["headers"])
    client.post(f"{API}/leads", json=new_lead(external_ref="RT-2", city="上海"), headers=partner["headers"])

    assert harness.drain_outbox(intake.runtime) == []


def test_resync_re_emits_products_customers_and_leads_as_snapshots_without_personal_data(
    intake: Any, client: Any, sales_headers: dict[str, str], new_lead: Callable[..., dict[str, Any]]
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    harness.drain_outbox(intake.runtime)

    count = SERVICE.resync(intake.runtime)
    snapshots = harness.drain_outbox(intake.runtime)

    assert count == len(snapshots) == 5
    assert [(e.type, e.subject) for e in snapshots[:3]] == [
        ("intake.product.published", "product:car"),
        ("intake.product.published", "product:credit"),
        ("intake.product.published", "product:house"),
    ]
    assert [(e.type, e.subject, e.sequence) for e in snapshots[3:]] == [
        ("intake.customer.updated", lead["customer_id"], 2),
        ("intake.lead.updated", lead["id"], 2),
    ]
    assert set(snapshots[4].data) >= LEAD_FIELDS
    for event in snapshots:
        for value in PERSONAL_VALUES:
            assert value not in event.to_json()
