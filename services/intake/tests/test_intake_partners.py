"""Component tests of partners: per-minute quotas, channel registration, and who may read a lead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from loanbridge.common.clock import FixedClock, use_clock

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]


def nth_lead(new_lead: LeadBuilder, n: int) -> dict[str, Any]:
    """A lead of its own person: a distinct mobile, no ID number, a distinct external_ref."""
    return new_lead(mobile=f"1390531{n:04d}", id_number=None, external_ref=f"REF-{n}")


def test_partner_over_its_minute_quota_gets_429_with_retry_after_and_other_partners_go_on(
    client: Any,
    tokens: Any,
    admin_headers: dict[str, str],
    partner: dict[str, Any],
    other_partner: dict[str, Any],
    new_lead: LeadBuilder,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    quota = client.put(f"{API}/partners/{partner['partner_id']}/quota", json={"per_minute": 3}, headers=admin_headers)
    assert quota.status_code == 200
    assert quota.get_json() == {"partner_id": partner["partner_id"], "per_minute": 3}

    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC))) as fixed:
        # Tokens are judged by the same clock: mint them in this one.
        headers, other_headers = tokens.header(**partner["claims"]), tokens.header(**other_partner["claims"])
        accepted = [
            client.post(f"{API}/leads", json=nth_lead(new_lead, n), headers=headers).status_code for n in range(3)
        ]
        leads_before = row_counts()["leads"]
        refused = client.post(f"{API}/leads", json=nth_lead(new_lead, 3), headers=headers)
        leads_after_refusal = row_counts()["leads"]
        other = client.post(f"{API}/leads", json=nth_lead(new_lead, 4), headers=other_headers)
        fixed.advance(timedelta(seconds=55))
        next_minute = client.post(f"{API}/leads", json=nth_lead(new_lead, 5), headers=headers)

    assert accepted == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.get_json()["code"] == "partner_quota_exceeded"
    assert refused.headers["Retry-After"] == "55"
    assert leads_after_refusal == leads_before
    assert other.status_code == 201
    assert next_minute.status_code == 201


def test_quota_is_counted_per_minute_not_per_sixty_seconds_rolling(
    client: Any, tokens: Any, admin_headers: dict[str, str], partner: dict[str, Any], new_lead: LeadBuilder
) -> None:
    client.put(f"{API}/partners/{partner['partner_id']}/quota", json={"per_minute": 1}, headers=admin_headers)

    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, 59, tzinfo=UTC))) as fixed:
        headers = tokens.header(**partner["claims"])
        first = client.post(f"{API}/leads", json=nth_lead(new_lead, 1), headers=headers)
        refused = client.post(f"{API}/leads", json=nth_lead(new_lead, 2), headers=headers)
        fixed.advance(timedelta(seconds=1))
        new_window = client.post(f"{API}/leads", json=nth_lead(new_lead, 3), headers=headers)

    assert first.status_code == 201
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert new_window.status_code == 201


def test_staff_leads_are_not_limited_by_partner_quotas(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    statuses = [
        client.post(f"{API}/leads", json={**nth_lead(new_lead, n), "channel": "douyin"}, headers=sales_headers)
        for n in range(3)
    ]

    assert [response.status_code for response in statuses] == [201, 201, 201]


def test_only_an_admin_sets_a_partner_quota(
    client: Any, sales_headers: dict[str, str], partner: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    path = f"{API}/partners/{partner['partner_id']}/quota"

    assert client.put(path, json={"per_minute": 3}).status_code == 401
    assert client.put(path, json={"per_minute": 3}, headers=sales_headers).status_code == 403
    assert client.put(path, json={"per_minute": 3}, headers=partner["headers"]).status_code == 403
    bad = client.put(path, json={"per_minute": 0}, headers=admin_headers)
    assert bad.status_code == 422
    assert "per_minute" in bad.get_json()["details"]["fields"]


def test_partner_reads_its_own_lead_but_another_partner_and_other_salespeople_get_404(
    client: Any,
    partner: dict[str, Any],
    other_partner: dict[str, Any],
    sales_headers: dict[str, str],
    admin_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"]).get_json()
    path = f"{API}/leads/{lead['id']}"

    own = client.get(path, headers=partner["headers"])
    other = client.get(path, headers=other_partner["headers"])
    salesperson = client.get(path, headers=sales_headers)
    admin = client.get(path, headers=admin_headers)

    assert own.status_code == 200
    assert own.get_json() == lead
    assert other.status_code == 404
    assert salesperson.status_code == 404
    for refused in (other, salesperson):
        assert refused.get_json()["code"] == "not_found"
        assert lead["customer_id"] not in refused.get_data(as_text=True)
    assert admin.status_code == 200


def test_salesperson_reads_the_lead_they_entered_but_not_a_colleagues(
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()

    assert client.get(f"{API}/leads/{lead['id']}", headers=sales_headers).status_code == 200
    assert client.get(f"{API}/leads/{lead['id']}", headers=other_sales_headers).status_code == 404
    assert client.get(f"{API}/leads/no-such-lead", headers=sales_headers).status_code == 404


def test_channel_registration_is_for_admins_and_managers_and_codes_are_unique(
    client: Any, admin_headers: dict[str, str], sales_headers: dict[str, str], partner: dict[str, Any]
) -> None:
    body = {"code": "wechat_ads", "name": "微信广告", "kind": "advertising"}

    assert client.post(f"{API}/channels", json=body, headers=sales_headers).status_code == 403
    assert client.post(f"{API}/channels", json=body, headers=admin_headers).status_code == 201
    duplicate = client.post(f"{API}/channels", json=body, headers=admin_headers)
    assert duplicate.status_code == 409
    assert duplicate.get_json()["code"] == "channel_code_taken"
    second_channel = client.post(
        f"{API}/channels",
        json={"code": "rongtong_2", "name": "融通二", "partner_id": partner["partner_id"]},
        headers=admin_headers,
    )
    assert second_channel.status_code == 409
    codes = [c["code"] for c in client.get(f"{API}/channels", headers=sales_headers).get_json()]
    assert {"douyin", "wechat_ads", partner["channel"]} <= set(codes)
    assert codes == sorted(codes)
