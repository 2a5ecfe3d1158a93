"""Component tests of customers: the 360 view masked by default and unmasked only by allowed roles (audited),
who sees which customer, list filters and cursor pages, consent, erasure, and no personal data at rest."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.testing import harness
from loanbridge.intake import orm

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
NAMES = ("张三丰", "李四光", "王五岳", "赵六合", "钱七星", "孙八方")
DISTRICTS = ("370102", "370202", "370602", "370702", "371302", "371602")


def person(n: int, id_number: Callable[..., str]) -> dict[str, str]:
    """The n-th person of a test: a name, mobile and ID number no other person of the test has."""
    return {
        "name": NAMES[n],
        "mobile": f"1390531{n:04d}",
        "id_number": id_number(district=DISTRICTS[n], born=date(1980 + n, 1 + n, 10 + n), sequence=200 + n),
    }


def post_lead(client: Any, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{API}/leads", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


# --- the 360 view: masked, unmasked, audited ------------------------------------------------------------------------
def test_a_customer_reads_masked_by_default_and_the_read_is_not_audited(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    audit_rows: Callable[[], list[dict[str, Any]]],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin", name="张三"))

    response = client.get(f"{API}/customers/{lead['customer_id']}", headers=sales_headers)

    assert response.status_code == 200
    customer = response.get_json()
    assert customer["id"] == lead["customer_id"]
    assert customer["name"] == "张*"
    assert customer["mobile"] == "138****5678"
    assert customer["id_number"] == "3701**********1239"
    assert customer["gender"] == "male"
    assert (customer["city"], customer["channel"], customer["erased"]) == ("济南", "douyin", False)
    [only] = customer["leads"]
    assert only["id"] == lead["id"]
    assert only["form"]["property_address"] == "***"  # x-pii
    assert only["form"]["property_city"] == "济南"  # a plain field
    assert only["form"]["property_valuation"] == 2000000
    assert (only["product"], only["amount"], only["term_months"], only["form_version"]) == ("house", 500000, 36, 1)
    text = response.get_data(as_text=True)
    for clear in ("张三", "13812345678", "370102198506121239", "历下区泉城路1号"):
        assert clear not in text
    assert audit_rows() == []


@pytest.mark.parametrize(
    "claims",
    [
        {"subject": "sales-zhang", "roles": ["sales"], "team_id": "team-jinan-1"},
        {"subject": "admin-1", "roles": ["admin"]},
        {"subject": "risk-zhao", "roles": ["risk_officer"]},
        {"subject": "mgr-wang", "roles": ["manager"], "managed_team_ids": ["team-jinan-1"]},
    ],
    ids=["submitting_sales", "admin", "risk_officer", "manager"],
)
def test_unmask_by_an_allowed_role_answers_clear_values_and_writes_one_audit_row(
    client: Any,
    tokens: harness.TokenFactory,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    audit_rows: Callable[[], list[dict[str, Any]]],
    claims: dict[str, Any],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))

    response = client.get(f"{API}/customers/{lead['customer_id']}?unmask=true", headers=tokens.header(**claims))

    assert response.status_code == 200
    customer = response.get_json()
    assert (customer["name"], customer["mobile"], customer["id_number"]) == (
        "张三丰",
        "13812345678",
        "370102198506121239",
    )
    assert customer["leads"][0]["form"]["property_address"] == "历下区泉城路1号"
    [audit] = audit_rows()
    assert audit["actor"] == claims["subject"]
    assert audit["action"] == "unmask_customer"
    assert audit["resource"] == f"customer:{lead['customer_id']}"
    assert set(audit["fields"].split(",")) >= {"name", "mobile", "id_number"}
    assert "13812345678" not in json.dumps(audit, default=str)


def test_the_unmask_audit_names_the_form_fields_and_notes_it_showed_in_clear(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    audit_rows: Callable[[], list[dict[str, Any]]],
) -> None:
    house = post_lead(client, sales_headers, new_lead(channel="douyin"))
    credit_form = {"employer_type": "private", "employer_name": "济南某某机械厂"}
    post_lead(client, sales_headers, new_lead(channel="baidu", product="credit", form=credit_form))
    client.post(
        f"{API}/leads/{house['id']}/followups",
        json={"method": "call", "outcome": "reached", "note": "客户要求下午再联系"},
        headers=sales_headers,
    )

    shown = client.get(f"{API}/customers/{house['customer_id']}?unmask=true", headers=sales_headers).get_json()

    assert shown["leads"][1]["form"]["employer_name"] == "济南某某机械厂"
    assert shown["leads"][0]["followups"][0]["note"] == "客户要求下午再联系"
    [audit] = audit_rows()
    assert set(audit["fields"].split(",")) == {
        "name", "mobile", "id_number", "form.property_address", "form.employer_name", "followup.note",
    }  # fmt: skip


def test_ops_may_read_masked_but_not_unmask(
    client: Any,
    tokens: harness.TokenFactory,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    audit_rows: Callable[[], list[dict[str, Any]]],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))
    ops = tokens.header(subject="ops-sun", roles=["ops"])

    masked = client.get(f"{API}/customers/{lead['customer_id']}", headers=ops)
    refused = client.get(f"{API}/customers/{lead['customer_id']}?unmask=true", headers=ops)

    assert masked.status_code == 200
    assert masked.get_json()["mobile"] == "138****5678"
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "unmask_forbidden"
    assert "13812345678" not in refused.get_data(as_text=True)
    assert audit_rows() == []


def test_partners_read_no_customer_records(
    client: Any, partner: dict[str, Any], new_lead: LeadBuilder, audit_rows: Callable[[], list[dict[str, Any]]]
) -> None:
    lead = post_lead(client, partner["headers"], new_lead(external_ref="RT-1"))

    one = client.get(f"{API}/customers/{lead['customer_id']}", headers=partner["headers"])
    unmasked = client.get(f"{API}/customers/{lead['customer_id']}?unmask=true", headers=partner["headers"])
    listed = client.get(f"{API}/customers", headers=partner["headers"])

    assert (one.status_code, unmasked.status_code, listed.status_code) == (403, 403, 403)
    for response in (one, unmasked, listed):
        assert "138" not in response.get_data(as_text=True)
    assert audit_rows() == []


# --- scope ----------------------------------------------------------------------------------------------------------
def test_a_salesperson_who_neither_owns_nor_entered_a_customer_gets_404_and_an_empty_list(
    client: Any, sales_headers: dict[str, str], other_sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))

    read = client.get(f"{API}/customers/{lead['customer_id']}", headers=other_sales_headers)
    unmasked = client.get(f"{API}/customers/{lead['customer_id']}?unmask=true", headers=other_sales_headers)
    listed = client.get(f"{API}/customers", headers=other_sales_headers)

    assert read.status_code == unmasked.status_code == 404
    assert read.get_json()["code"] == "not_found"
    assert "张" not in read.get_data(as_text=True)
    assert listed.status_code == 200
    assert listed.get_json() == {"items": [], "next_cursor": None}
    # The submitter does see it, in the list too.
    assert ids(client.get(f"{API}/customers", headers=sales_headers).get_json()) == [lead["customer_id"]]


def test_a_salesperson_sees_a_customer_once_workflow_assigns_it_to_them(
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    assign_case: Callable[..., Any],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))

    assign_case(lead, "sales-li", "team-jinan-1")

    read = client.get(f"{API}/customers/{lead['customer_id']}", headers=other_sales_headers)
    assert read.status_code == 200
    assert read.get_json()["owner_id"] == "sales-li"
    assert ids(client.get(f"{API}/customers", headers=other_sales_headers).get_json()) == [lead["customer_id"]]


def test_a_manager_sees_pool_customers_and_those_owned_by_their_teams_only(
    client: Any,
    tokens: harness.TokenFactory,
    sales_headers: dict[str, str],
    manager_headers: dict[str, str],
    new_lead: LeadBuilder,
    id_number: Callable[..., str],
    assign_case: Callable[..., Any],
) -> None:
    jinan = post_lead(client, sales_headers, new_lead(channel="douyin", **person(0, id_number)))
    qingdao = post_lead(client, sales_headers, new_lead(channel="douyin", **person(1, id_number)))
    pool = post_lead(client, sales_headers, new_lead(channel="douyin", **person(2, id_number)))
    assign_case(jinan, "sales-zhang", "team-jinan-1")
    assign_case(qingdao, "sales-qd", "team-qingdao-1")
    qingdao_manager = tokens.header(subject="mgr-qd", roles=["manager"], managed_team_ids=["team-qingdao-1"])

    listed = client.get(f"{API}/customers", headers=manager_headers).get_json()
    other_listed = client.get(f"{API}/customers", headers=qingdao_manager).get_json()

    assert set(ids(listed)) == {jinan["customer_id"], pool["customer_id"]}
    assert set(ids(other_listed)) == {qingdao["customer_id"], pool["customer_id"]}
    assert client.get(f"{API}/customers/{jinan['customer_id']}", headers=manager_headers).status_code == 200
    assert client.get(f"{API}/customers/{pool['customer_id']}", headers=manager_headers).status_code == 200
    assert client.get(f"{API}/customers/{qingdao['customer_id']}", headers=manager_headers).status_code == 404
    assert client.get(f"{API}/customers/{jinan['customer_id']}", headers=qingdao_manager).status_code == 404


# --- lists ----------------------------------------------------------------------------------------------------------
def test_customer_lists_filter_by_city_channel_product_stage_owner_and_business_date(
    client: Any,
    intake: harness.ServiceUnderTest,
    tokens: harness.TokenFactory,
    new_lead: LeadBuilder,
    new_event: Callable[..., Any],
    id_number: Callable[..., str],
    assign_case: Callable[..., Any],
) -> None:
    # (city, channel, product, when in UTC): 15:30Z is 23:30 in Shanghai, 16:30Z already the next day there.
    plan = [
        ("济南", "douyin", "house", datetime(2026, 3, 2, 2, 0, tzinfo=UTC)),
        ("青岛", "baidu", "credit", datetime(2026, 3, 2, 15, 30, tzinfo=UTC)),
        ("济南", "baidu", "car", datetime(2026, 3, 2, 16, 30, tzinfo=UTC)),
        ("烟台", "ground", "house", datetime(2026, 3, 4, 2, 0, tzinfo=UTC)),
        ("济南", "douyin", "credit", datetime(2026, 3, 5, 2, 0, tzinfo=UTC)),
    ]
    customers = []
    with use_clock(FixedClock(plan[0][3])) as fixed:
        for n, (city, channel, product, when) in enumerate(plan):
            fixed.set(when)
            form = new_lead()["form"] if product == "house" else {}
            body = new_lead(channel=channel, city=city, product=product, form=form, **person(n, id_number))
            customers.append(post_lead(client, tokens.header(subject="sales-zhang", roles=["sales"]), body))
        c1, c2, c3, c4, c5 = (lead["customer_id"] for lead in customers)
        stage = new_event(
            "workflow.stage.changed",
            {"case_id": customers[2]["id"], "customer_id": c3, "from_stage": "assigned", "to_stage": "pre_review",
             "actor": "sales-zhang", "reason": None},
        )  # fmt: skip
        harness.deliver([stage], intake.runtime)
        assign_case(customers[3], "sales-zhang", "team-jinan-1")
        admin = tokens.header(subject="admin-1", roles=["admin"])

        def listed(query: str) -> list[str]:
            response = client.get(f"{API}/customers?{query}", headers=admin)
            assert response.status_code == 200, response.get_json()
            return ids(response.get_json())

        assert listed("") == [c5, c4, c3, c2, c1]  # newest first
        assert listed("city=济南") == [c5, c3, c1]
        assert listed("channel=baidu") == [c3, c2]
        assert listed("product=house") == [c4, c1]
        assert listed("stage=pre_review") == [c3]
        assert listed("owner_id=sales-zhang") == [c4]
        assert listed("from=2026-03-02&to=2026-03-02") == [c2, c1]  # business days, Asia/Shanghai
        assert listed("from=2026-03-03&to=2026-03-03") == [c3]
        assert listed("from=2026-03-04") == [c5, c4]
        assert listed("city=济南&channel=douyin") == [c5, c1]
        assert listed("city=威海") == []
        unknown = client.get(f"{API}/customers?town=济南", headers=admin)
    assert unknown.status_code == 422  # a misspelt filter never widens the list


@pytest.mark.parametrize("step", [timedelta(0), timedelta(minutes=1)], ids=["same_instant", "a_minute_apart"])
def test_customer_lists_page_by_cursor_without_duplicates_in_a_deterministic_order(
    client: Any,
    tokens: harness.TokenFactory,
    new_lead: LeadBuilder,
    id_number: Callable[..., str],
    step: timedelta,
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 2, 1, 0, 0, 123456, tzinfo=UTC))) as fixed:
        headers = tokens.header(subject="sales-zhang", roles=["sales"])
        for n in range(5):
            post_lead(client, headers, new_lead(channel="douyin", **person(n, id_number)))
            fixed.advance(step)
        everything = ids(client.get(f"{API}/customers?limit=50", headers=headers).get_json())

        pages, cursor = [], None
        while True:
            query = f"limit=2&cursor={cursor}" if cursor else "limit=2"
            page = client.get(f"{API}/customers?{query}", headers=headers).get_json()
            pages.append(ids(page))
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert len(pages) < 10, "the cursor does not advance"
        again = ids(client.get(f"{API}/customers?limit=2", headers=headers).get_json())
        bad = client.get(f"{API}/customers?limit=2&cursor=not-a-cursor", headers=headers)

    assert [len(page) for page in pages] == [2, 2, 1]
    flat = [customer_id for page in pages for customer_id in page]
    assert flat == everything
    assert len(set(flat)) == 5
    assert again == pages[0]
    assert bad.status_code == 422
    assert "cursor" in bad.get_json()["details"]["fields"]


# --- consent --------------------------------------------------------------------------------------------------------
def test_consent_is_recorded_with_its_time_and_channel(
    client: Any,
    intake: harness.ServiceUnderTest,
    tokens: harness.TokenFactory,
    new_lead: LeadBuilder,
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))):
        headers = tokens.header(subject="sales-zhang", roles=["sales"])
        lead = post_lead(client, headers, new_lead(channel="douyin"))
        before = client.get(f"{API}/customers/{lead['customer_id']}", headers=headers).get_json()

        recorded = client.post(
            f"{API}/customers/{lead['customer_id']}/consents", json={"channel": "app"}, headers=headers
        )
        after = client.get(f"{API}/customers/{lead['customer_id']}", headers=headers).get_json()
        signed_earlier = client.post(
            f"{API}/customers/{lead['customer_id']}/consents",
            json={"channel": "paper", "given_at": "2026-03-01T08:00:00Z"},
            headers=headers,
        )
        latest = client.get(f"{API}/customers/{lead['customer_id']}", headers=headers).get_json()
        bad_channel = client.post(
            f"{API}/customers/{lead['customer_id']}/consents", json={"channel": "telepathy"}, headers=headers
        )

    assert before["consent"] is None
    assert recorded.status_code == 201
    answer = recorded.get_json()
    assert answer["channel"] == "app"
    assert answer["purpose"] == "loan_facilitation"
    assert datetime.fromisoformat(answer["given_at"]) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert after["consent"]["channel"] == "app"
    assert datetime.fromisoformat(after["consent"]["given_at"]) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert signed_earlier.status_code == 201
    assert latest["consent"]["channel"] == "paper"
    assert datetime.fromisoformat(latest["consent"]["given_at"]) == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert bad_channel.status_code == 422
    assert "channel" in bad_channel.get_json()["details"]["fields"]
    with intake.runtime.database.session() as session:
        rows = session.execute(sa.select(orm.consents).order_by(orm.consents.c.given_at)).all()
    assert [(row.channel, row.recorded_by, row.customer_id) for row in rows] == [
        ("paper", "sales-zhang", lead["customer_id"]),
        ("app", "sales-zhang", lead["customer_id"]),
    ]


def test_consent_for_a_customer_outside_ones_scope_is_404_and_writes_nothing(
    client: Any,
    intake: harness.ServiceUnderTest,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))

    response = client.post(
        f"{API}/customers/{lead['customer_id']}/consents", json={"channel": "app"}, headers=other_sales_headers
    )

    assert response.status_code == 404
    with intake.runtime.database.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(orm.consents)).scalar_one() == 0


# --- erasure --------------------------------------------------------------------------------------------------------
def test_admin_erasure_shreds_the_person_and_keeps_the_anonymous_facts(
    client: Any,
    intake: harness.ServiceUnderTest,
    intake_env: dict[str, str],
    sales_headers: dict[str, str],
    admin_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))
    customer_id = lead["customer_id"]
    upload = client.post(
        f"{API}/leads/{lead['id']}/documents",
        data={"doc_type": "credit_report", "file": (io.BytesIO(PDF), "征信.pdf")},
        headers=sales_headers,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    document_id = upload.get_json()["id"]
    blob = Path(intake_env["LOANBRIDGE_VAR_DIR"]) / "documents" / customer_id / document_id
    assert blob.is_file()
    followup = client.post(
        f"{API}/leads/{lead['id']}/followups",
        json={"method": "call", "outcome": "interested", "note": "客户说下周带房产证来"},
        headers=sales_headers,
    )
    assert followup.status_code == 201
    harness.drain_outbox(intake.runtime)

    erased = client.delete(f"{API}/customers/{customer_id}", headers=admin_headers)

    assert erased.status_code == 200
    assert erased.get_json()["customer_id"] == customer_id
    customer = client.get(f"{API}/customers/{customer_id}?unmask=true", headers=admin_headers).get_json()
    assert customer["name"] == "(已删除)"
    assert (customer["mobile"], customer["id_number"], customer["address"]) == (None, None, None)
    assert (customer["gender"], customer["age"]) == (None, None)
    assert customer["erased"] is True
    [kept] = customer["leads"]
    assert (kept["id"], kept["product"], kept["amount"], kept["term_months"]) == (lead["id"], "house", 500000, 36)
    assert (kept["city"], kept["channel"]) == ("济南", "douyin")
    assert kept["form"]["property_valuation"] == 2000000
    assert kept["form"]["property_address"] == "***"  # sealed under a key that no longer exists
    assert kept["followups"][0]["note"] is None
    assert kept["followups"][0]["outcome"] == "interested"
    assert not blob.exists()
    assert client.get(f"{API}/documents/{document_id}/content", headers=admin_headers).status_code == 404
    with intake.runtime.database.session() as session:
        keys = session.execute(sa.select(orm.customer_keys).where(orm.customer_keys.c.customer_id == customer_id))
        assert keys.first() is None
        row = orm.customer_by_id(session, customer_id)
        assert (row.mobile_bidx, row.id_number_bidx, row.mobile_enc, row.id_number_enc) == (None, None, None, None)
        assert row.name_enc in ("", None)
    [event] = harness.drain_outbox(intake.runtime)
    assert (event.type, event.subject) == ("intake.customer.updated", customer_id)
    assert event.data == {"customer_id": customer_id, "masked_name": "(已删除)", "city": "济南", "channel": "douyin"}
    for clear in ("张三丰", "张**", "13812345678", "138****5678", "370102198506121239"):
        assert clear not in event.to_json()
    summary = client.get(f"{API}/customers", headers=admin_headers).get_json()["items"]
    assert [(item["id"], item["name"], item["erased"]) for item in summary] == [(customer_id, "(已删除)", True)]


def test_after_erasure_a_lead_with_the_same_mobile_and_id_number_creates_a_new_customer(
    client: Any, sales_headers: dict[str, str], admin_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    first = post_lead(client, sales_headers, new_lead(channel="douyin"))
    assert client.delete(f"{API}/customers/{first['customer_id']}", headers=admin_headers).status_code == 200

    again = post_lead(client, sales_headers, new_lead(channel="douyin"))

    assert again["customer_id"] != first["customer_id"]
    assert again["duplicate_outcome"] == "new_customer"
    fresh = client.get(f"{API}/customers/{again['customer_id']}?unmask=true", headers=admin_headers).get_json()
    assert fresh["mobile"] == "13812345678"
    assert [lead["id"] for lead in fresh["leads"]] == [again["id"]]


def test_erasure_is_for_admins_only_and_repeating_it_changes_nothing(
    client: Any,
    intake: harness.ServiceUnderTest,
    sales_headers: dict[str, str],
    manager_headers: dict[str, str],
    admin_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))

    by_sales = client.delete(f"{API}/customers/{lead['customer_id']}", headers=sales_headers)
    by_manager = client.delete(f"{API}/customers/{lead['customer_id']}", headers=manager_headers)
    still = client.get(f"{API}/customers/{lead['customer_id']}", headers=sales_headers).get_json()
    harness.drain_outbox(intake.runtime)
    first = client.delete(f"{API}/customers/{lead['customer_id']}", headers=admin_headers)
    second = client.delete(f"{API}/customers/{lead['customer_id']}", headers=admin_headers)
    unknown = client.delete(f"{API}/customers/no-such-customer", headers=admin_headers)

    assert (by_sales.status_code, by_manager.status_code) == (403, 403)
    assert still["erased"] is False
    assert still["mobile"] == "138****5678"
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert len(harness.drain_outbox(intake.runtime)) == 1
    assert unknown.status_code == 404


# --- no personal data at rest ---------------------------------------------------------------------------------------
def test_no_name_mobile_id_number_or_pii_form_value_is_in_clear_in_the_sqlite_files(
    client: Any,
    sales_headers: dict[str, str],
    risk_headers: dict[str, str],
    admin_headers: dict[str, str],
    new_lead: LeadBuilder,
    id_number: Callable[..., str],
    intake_db_files: Callable[[], bytes],
) -> None:
    people = [person(n, id_number) for n in range(5)]
    for n, someone in enumerate(people):
        if n % 2:
            form = {"employer_type": "private", "employer_name": f"济南某某机械厂{n}号", "monthly_income": 12000}
            body = new_lead(channel="baidu", product="credit", form=form, **someone)
        else:
            form = {**new_lead()["form"], "property_address": f"历下区泉城路{n}号院"}
            body = new_lead(channel="douyin", form=form, **someone)
        lead = post_lead(client, sales_headers, body)
        client.post(
            f"{API}/leads/{lead['id']}/followups",
            json={"method": "visit", "outcome": "reached", "note": f"面谈记录第{n}次很顺利"},
            headers=sales_headers,
        )
        client.post(f"{API}/customers/{lead['customer_id']}/consents", json={"channel": "app"}, headers=sales_headers)
        client.get(f"{API}/customers/{lead['customer_id']}?unmask=true", headers=admin_headers)
    client.post(f"{API}/blacklist", json={"id_number": people[0]["id_number"], "reason": "骗贷"}, headers=risk_headers)
    client.post(f"{API}/blacklist", json={"mobile": people[1]["mobile"], "reason": "骗贷"}, headers=risk_headers)

    stored = intake_db_files()

    # The read sees the tables: masked names and plain facts are there, the sealed ones are not.
    assert "张**".encode() in stored
    assert "经营周转".encode() in stored
    assert "泉城路".encode() not in stored
    for n, someone in enumerate(people):
        for value in (someone["name"], someone["mobile"], someone["id_number"]):
            assert value.encode() not in stored, value
        assert someone["name"].encode("utf-16-le") not in stored
        assert f"面谈记录第{n}次".encode() not in stored
        assert f"机械厂{n}号".encode() not in stored
