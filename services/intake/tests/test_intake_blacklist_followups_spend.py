"""Component tests of the blacklist (kept by risk officers, masked), follow-ups (``intake.followup.logged``, the note
sealed and shown only when unmasked) and channel spend per month (``intake.channel.spend_recorded``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.testing import harness

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
FOLLOWUP_FIELDS = {"lead_id", "customer_id", "user_id", "method", "outcome", "intent_level", "next_followup_at"}
NOTE = "客户说下周三带房产证原件来公司面谈"


# --- blacklist ------------------------------------------------------------------------------------------------------
def test_a_risk_officer_blacklists_by_id_number_or_mobile_and_the_list_shows_them_masked(
    client: Any, tokens: harness.TokenFactory, intake_db_files: Callable[[], bytes]
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))) as fixed:
        risk_headers = tokens.header(subject="risk-zhao", roles=["risk_officer"], ttl=7200)
        by_id = client.post(
            f"{API}/blacklist", json={"id_number": "370102198506121239", "reason": "伪造银行流水"}, headers=risk_headers
        )
        fixed.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        by_mobile = client.post(
            f"{API}/blacklist", json={"mobile": "+86 139-0531-0000", "reason": "冒用他人身份"}, headers=risk_headers
        )
        listed = client.get(f"{API}/blacklist", headers=risk_headers)

    assert by_id.status_code == by_mobile.status_code == 201
    assert by_id.get_json()["masked"] == "3701**********1239"
    assert by_mobile.get_json()["masked"] == "139****0000"
    assert by_id.get_json()["added_by"] == "risk-zhao"
    assert listed.status_code == 200
    assert [(e["masked"], e["reason"]) for e in listed.get_json()] == [
        ("139****0000", "冒用他人身份"),
        ("3701**********1239", "伪造银行流水"),
    ]
    text = listed.get_data(as_text=True)
    stored = intake_db_files()
    for clear in ("370102198506121239", "13905310000"):
        assert clear not in text
        assert clear.encode() not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id_number": "370102198506121239", "mobile": "13812345678", "reason": "重复"}, "id_number"),
        ({"reason": "什么都没填"}, "id_number"),
        ({"id_number": "370102198506121230", "reason": "校验位错"}, "id_number"),
        ({"mobile": "1381234567", "reason": "位数不对"}, "mobile"),
        ({"mobile": "13812345678"}, "reason"),
        ({"mobile": "13812345678", "reason": ""}, "reason"),
    ],
    ids=["both", "neither", "bad_id_number", "bad_mobile", "no_reason", "empty_reason"],
)
def test_a_blacklist_entry_needs_exactly_one_valid_key_and_a_reason(
    client: Any, risk_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post(f"{API}/blacklist", json=body, headers=risk_headers)

    assert response.status_code == 422
    assert field in response.get_json()["details"]["fields"]
    assert client.get(f"{API}/blacklist", headers=risk_headers).get_json() == []


def test_removing_an_entry_takes_it_off_the_list_once(client: Any, risk_headers: dict[str, str]) -> None:
    entry = client.post(
        f"{API}/blacklist", json={"mobile": "13812345678", "reason": "骗贷"}, headers=risk_headers
    ).get_json()

    removed = client.delete(f"{API}/blacklist/{entry['id']}", headers=risk_headers)
    again = client.delete(f"{API}/blacklist/{entry['id']}", headers=risk_headers)

    assert removed.status_code == 204
    assert again.status_code == 404
    assert client.get(f"{API}/blacklist", headers=risk_headers).get_json() == []


def test_only_risk_staff_and_admins_keep_the_blacklist(
    client: Any,
    tokens: harness.TokenFactory,
    sales_headers: dict[str, str],
    manager_headers: dict[str, str],
    admin_headers: dict[str, str],
    risk_headers: dict[str, str],
) -> None:
    entry = client.post(
        f"{API}/blacklist", json={"mobile": "13812345678", "reason": "骗贷"}, headers=risk_headers
    ).get_json()
    ops = tokens.header(roles=["ops"])

    for headers in (sales_headers, manager_headers, ops):
        assert client.get(f"{API}/blacklist", headers=headers).status_code == 403
        refused = client.post(f"{API}/blacklist", json={"mobile": "13905310000", "reason": "x"}, headers=headers)
        assert refused.status_code == 403
        assert client.delete(f"{API}/blacklist/{entry['id']}", headers=headers).status_code == 403
    assert len(client.get(f"{API}/blacklist", headers=admin_headers).get_json()) == 1
    director = tokens.header(roles=["risk_director"])
    assert client.delete(f"{API}/blacklist/{entry['id']}", headers=director).status_code == 204


# --- follow-ups -----------------------------------------------------------------------------------------------------
def test_a_followup_is_logged_with_the_catalog_event_and_its_note_sealed(
    intake: harness.ServiceUnderTest,
    client: Any,
    tokens: harness.TokenFactory,
    new_lead: LeadBuilder,
    intake_db_files: Callable[[], bytes],
) -> None:
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))):
        headers = tokens.header(subject="sales-zhang", roles=["sales"], team_id="team-jinan-1")
        lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers).get_json()
        harness.drain_outbox(intake.runtime)

        response = client.post(
            f"{API}/leads/{lead['id']}/followups",
            json={
                "method": "call",
                "outcome": "interested",
                "intent_level": "A",
                "note": NOTE,
                "next_followup_at": "2026-03-04T02:00:00Z",
            },
            headers=headers,
        )

    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert (answer["method"], answer["outcome"], answer["intent_level"]) == ("call", "interested", "A")
    assert answer["note"] == "***"
    assert answer["user_id"] == "sales-zhang"
    assert datetime.fromisoformat(answer["contacted_at"]) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    [event] = harness.drain_outbox(intake.runtime)
    assert (event.type, event.subject, event.routing_key) == (
        "intake.followup.logged",
        lead["id"],
        "intake.followup.logged.v1",
    )
    assert set(event.data) >= FOLLOWUP_FIELDS
    assert event.data == {
        "lead_id": lead["id"],
        "customer_id": lead["customer_id"],
        "user_id": "sales-zhang",
        "method": "call",
        "outcome": "interested",
        "intent_level": "A",
        "next_followup_at": "2026-03-04T02:00:00Z",
    }
    assert event.occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert NOTE not in event.to_json()
    assert NOTE.encode() not in intake_db_files()
    assert "房产证原件".encode() not in intake_db_files()


def test_the_360_shows_the_note_as_stars_unless_unmasked(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, audit_rows: Callable[[], list[Any]]
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    client.post(
        f"{API}/leads/{lead['id']}/followups",
        json={"method": "visit", "outcome": "materials_pending", "intent_level": "B", "note": NOTE,
              "contacted_at": "2026-03-01T06:00:00Z"},
        headers=sales_headers,
    )  # fmt: skip
    client.post(
        f"{API}/leads/{lead['id']}/followups",
        json={"method": "sms", "outcome": "no_answer", "contacted_at": "2026-03-02T06:00:00Z"},
        headers=sales_headers,
    )

    masked = client.get(f"{API}/customers/{lead['customer_id']}", headers=sales_headers).get_json()
    clear = client.get(f"{API}/customers/{lead['customer_id']}?unmask=true", headers=sales_headers).get_json()

    masked_followups = masked["leads"][0]["followups"]
    assert [(f["method"], f["note"]) for f in masked_followups] == [("visit", "***"), ("sms", None)]
    assert masked["leads"][0]["intent_level"] == "B"
    assert NOTE not in str(masked)
    assert [f["note"] for f in clear["leads"][0]["followups"]] == [NOTE, None]
    assert len(audit_rows()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "telegram", "outcome": "reached"}, "method"),
        ({"method": "call", "outcome": "maybe"}, "outcome"),
        ({"method": "call", "outcome": "reached", "intent_level": "S"}, "intent_level"),
        ({"method": "call", "outcome": "reached", "note": "长" * 501}, "note"),
        ({"method": "call", "outcome": "reached", "next_followup_at": "下周三"}, "next_followup_at"),
        ({"outcome": "reached"}, "method"),
    ],
    ids=["method", "outcome", "intent_level", "note_too_long", "next_followup_at", "missing_method"],
)
def test_a_bad_followup_is_422_naming_the_field_and_emits_nothing(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    body: dict[str, Any],
    field: str,
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    harness.drain_outbox(intake.runtime)

    response = client.post(f"{API}/leads/{lead['id']}/followups", json=body, headers=sales_headers)

    assert response.status_code == 422
    assert field in response.get_json()["details"]["fields"]
    assert harness.drain_outbox(intake.runtime) == []


def test_followups_on_a_lead_outside_ones_scope_are_404_and_partners_log_none(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    partner: dict[str, Any],
    new_lead: LeadBuilder,
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    partner_lead = client.post(
        f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"]
    ).get_json()
    harness.drain_outbox(intake.runtime)
    body = {"method": "call", "outcome": "reached"}

    outside = client.post(f"{API}/leads/{lead['id']}/followups", json=body, headers=other_sales_headers)
    by_partner = client.post(f"{API}/leads/{partner_lead['id']}/followups", json=body, headers=partner["headers"])
    unknown = client.post(f"{API}/leads/no-such-lead/followups", json=body, headers=sales_headers)

    assert outside.status_code == 404
    assert by_partner.status_code == 403
    assert unknown.status_code == 404
    assert harness.drain_outbox(intake.runtime) == []


# --- channel spend --------------------------------------------------------------------------------------------------
def test_spend_for_a_channel_and_month_is_recorded_and_a_later_figure_replaces_it(
    intake: harness.ServiceUnderTest, client: Any, manager_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    first = client.put(f"{API}/channels/douyin/spend/2026-11", json={"amount": 12000}, headers=manager_headers)
    client.put(f"{API}/channels/douyin/spend/2026-10", json={"amount": 9000}, headers=manager_headers)
    replaced = client.put(f"{API}/channels/douyin/spend/2026-11", json={"amount": "15000.50"}, headers=admin_headers)

    assert first.status_code == 200
    assert first.get_json() == {"channel": "douyin", "month": "2026-11", "amount": 12000, "recorded_by": "mgr-wang"}
    assert replaced.status_code == 200
    assert replaced.get_json()["amount"] == 15000.5
    history = client.get(f"{API}/channels/douyin/spend", headers=manager_headers).get_json()
    assert history == [
        {"channel": "douyin", "month": "2026-11", "amount": 15000.5, "recorded_by": "admin-1"},
        {"channel": "douyin", "month": "2026-10", "amount": 9000, "recorded_by": "mgr-wang"},
    ]
    events = harness.drain_outbox(intake.runtime)
    assert [(e.type, e.data) for e in events] == [
        ("intake.channel.spend_recorded", {"channel": "douyin", "month": "2026-11", "amount": 12000}),
        ("intake.channel.spend_recorded", {"channel": "douyin", "month": "2026-10", "amount": 9000}),
        ("intake.channel.spend_recorded", {"channel": "douyin", "month": "2026-11", "amount": 15000.5}),
    ]
    # The replacing figure is the newer event of the same channel and month.
    assert events[2].subject == events[0].subject
    assert events[2].sequence > events[0].sequence


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "202611", "2026-00", "26-11", "2026-11-01"])
def test_a_bad_month_is_422_naming_month_and_records_nothing(
    intake: harness.ServiceUnderTest, client: Any, manager_headers: dict[str, str], month: str
) -> None:
    response = client.put(f"{API}/channels/douyin/spend/{month}", json={"amount": 100}, headers=manager_headers)

    assert response.status_code == 422
    assert "month" in response.get_json()["details"]["fields"]
    assert harness.drain_outbox(intake.runtime) == []
    assert client.get(f"{API}/channels/douyin/spend", headers=manager_headers).get_json() == []


def test_spend_needs_a_known_channel_a_valid_amount_and_a_manager_or_admin(
    intake: harness.ServiceUnderTest,
    client: Any,
    manager_headers: dict[str, str],
    sales_headers: dict[str, str],
    partner: dict[str, Any],
) -> None:
    unknown = client.put(f"{API}/channels/tiktok/spend/2026-11", json={"amount": 100}, headers=manager_headers)
    negative = client.put(f"{API}/channels/douyin/spend/2026-11", json={"amount": -1}, headers=manager_headers)
    text = client.put(f"{API}/channels/douyin/spend/2026-11", json={"amount": "一万"}, headers=manager_headers)
    by_sales = client.put(f"{API}/channels/douyin/spend/2026-11", json={"amount": 100}, headers=sales_headers)
    by_partner = client.put(f"{API}/channels/douyin/spend/2026-11", json={"amount": 100}, headers=partner["headers"])

    assert unknown.status_code == 404
    assert negative.status_code == text.status_code == 422
    assert "amount" in negative.get_json()["details"]["fields"]
    assert by_sales.status_code == by_partner.status_code == 403
    assert harness.drain_outbox(intake.runtime) == []
