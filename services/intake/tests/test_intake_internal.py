"""Component tests of the internal contact endpoint notify calls at send time: service tokens only, the mobile in
clear with the opt-out state, every call audited, and never in the public OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.testing import harness
from loanbridge.intake import orm

API = "/api/intake/v1"
INTERNAL = "/internal/v1/contacts/customers"
LeadBuilder = Callable[..., dict[str, Any]]


@pytest.fixture
def notify_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="svc-notify", roles=["service"])


@pytest.fixture
def lead(client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder) -> dict[str, Any]:
    return client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()


def test_a_service_token_reads_the_mobile_and_opt_out_state_and_each_read_is_audited(
    client: Any,
    sales_headers: dict[str, str],
    notify_headers: dict[str, str],
    lead: dict[str, Any],
    audit_rows: Callable[[], list[dict[str, Any]]],
) -> None:
    before = client.get(f"{INTERNAL}/{lead['customer_id']}", headers=notify_headers)
    opted_out = client.post(f"{API}/customers/{lead['customer_id']}/opt-out", headers=sales_headers)
    after = client.get(f"{INTERNAL}/{lead['customer_id']}", headers=notify_headers)

    assert before.status_code == 200
    assert before.get_json() == {"customer_id": lead["customer_id"], "mobile": "13812345678", "opt_out": False}
    assert opted_out.status_code == 200
    assert opted_out.get_json() == {"customer_id": lead["customer_id"], "opt_out": True}
    assert after.get_json() == {"customer_id": lead["customer_id"], "mobile": "13812345678", "opt_out": True}
    reads = [row for row in audit_rows() if row["action"] == "read_customer_contacts"]
    assert [(row["actor"], row["resource"], row["fields"]) for row in reads] == [
        ("svc-notify", f"customer:{lead['customer_id']}", "mobile"),
    ] * 2
    [opt_out] = [row for row in audit_rows() if row["action"] == "record_opt_out"]
    assert opt_out["actor"] == "sales-zhang"


def test_opting_out_twice_keeps_the_first_time_and_stays_opted_out(
    intake: harness.ServiceUnderTest,
    client: Any,
    tokens: harness.TokenFactory,
    new_lead: LeadBuilder,
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))) as fixed:
        sales = tokens.header(subject="sales-zhang", roles=["sales"])
        lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales).get_json()
        first = client.post(f"{API}/customers/{lead['customer_id']}/opt-out", headers=sales)
        fixed.advance(timedelta(days=3))
        sales = tokens.header(subject="sales-zhang", roles=["sales"])
        second = client.post(f"{API}/customers/{lead['customer_id']}/opt-out", headers=sales)
        notify = tokens.header(subject="svc-notify", roles=["service"])
        contacts = client.get(f"{INTERNAL}/{lead['customer_id']}", headers=notify).get_json()

    assert first.status_code == second.status_code == 200
    assert contacts["opt_out"] is True
    with intake.runtime.database.session() as session:
        assert orm.customer_by_id(session, lead["customer_id"]).opt_out_at == datetime(2026, 3, 2, 9, 0)


def test_an_opt_out_for_a_customer_outside_ones_scope_is_404(
    client: Any, other_sales_headers: dict[str, str], notify_headers: dict[str, str], lead: dict[str, Any]
) -> None:
    response = client.post(f"{API}/customers/{lead['customer_id']}/opt-out", headers=other_sales_headers)

    assert response.status_code == 404
    assert client.get(f"{INTERNAL}/{lead['customer_id']}", headers=notify_headers).get_json()["opt_out"] is False


@pytest.mark.parametrize(
    "claims",
    [
        {"subject": "admin-1", "roles": ["admin"]},
        {"subject": "sales-zhang", "roles": ["sales"]},
        {"subject": "mgr-wang", "roles": ["manager"], "managed_team_ids": ["team-jinan-1"]},
        {"subject": "risk-zhao", "roles": ["risk_officer"]},
        {"subject": "ops-sun", "roles": ["ops"]},
        {"subject": "p_rongtong", "roles": ["partner"], "partner_id": "partner-1"},
    ],
    ids=["admin", "sales", "manager", "risk_officer", "ops", "partner"],
)
def test_staff_and_partner_tokens_are_403(
    client: Any,
    tokens: harness.TokenFactory,
    lead: dict[str, Any],
    audit_rows: Callable[[], list[dict[str, Any]]],
    claims: dict[str, Any],
) -> None:
    response = client.get(f"{INTERNAL}/{lead['customer_id']}", headers=tokens.header(**claims))

    assert response.status_code == 403
    assert "13812345678" not in response.get_data(as_text=True)
    assert audit_rows() == []


def test_no_token_is_401_and_an_unknown_customer_is_404(
    client: Any, notify_headers: dict[str, str], audit_rows: Callable[[], list[dict[str, Any]]]
) -> None:
    assert client.get(f"{INTERNAL}/00000000-0000-4000-8000-000000000000").status_code == 401
    unknown = client.get(f"{INTERNAL}/00000000-0000-4000-8000-000000000000", headers=notify_headers)
    assert unknown.status_code == 404
    assert audit_rows() == []


def test_a_service_token_reaches_no_public_endpoint(
    client: Any, notify_headers: dict[str, str], lead: dict[str, Any]
) -> None:
    assert client.get(f"{API}/customers/{lead['customer_id']}", headers=notify_headers).status_code == 403
    assert client.get(f"{API}/leads", headers=notify_headers).status_code == 403


def test_an_erased_customer_has_no_mobile_left(
    client: Any, admin_headers: dict[str, str], notify_headers: dict[str, str], lead: dict[str, Any]
) -> None:
    client.delete(f"{API}/customers/{lead['customer_id']}", headers=admin_headers)

    response = client.get(f"{INTERNAL}/{lead['customer_id']}", headers=notify_headers)

    assert response.status_code == 200
    assert response.get_json()["mobile"] is None


def test_the_internal_endpoint_is_not_in_the_public_openapi_document(client: Any) -> None:
    response = client.get("/api/intake/openapi.json")

    assert response.status_code == 200
    paths = response.get_json()["paths"]
    assert "/api/intake/v1/customers/{customer_id}" in paths  # the document is the real one
    assert not [path for path in paths if "internal" in path or "contacts" in path]
    assert "/internal/" not in response.get_data(as_text=True)
