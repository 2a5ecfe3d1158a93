"""A partner's leads travel from intake through RabbitMQ to reporting's KPIs exactly once."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import Api, Stack, kpi_leads, register_partner


def test_partner_leads_reach_kpis_exactly_once_and_replays_create_nothing(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "融信科技")
    rng = random.Random(20261128)
    bodies = [leads.lead(rng, external_ref=f"journey-{n:04d}") for n in range(200)]

    first = [partner.api.post("/api/intake/v1/leads", json=body) for body in bodies]
    assert [response.status_code for response in first] == [201] * 200
    ids = [response.json()["id"] for response in first]
    assert len(set(ids)) == 200

    wait_until(lambda: kpi_leads(admin, channel=partner.channel) == 200, timeout=30, message="200 leads in KPIs")

    with ThreadPoolExecutor(max_workers=20) as pool:
        replays = list(pool.map(lambda body: partner.api.post("/api/intake/v1/leads", json=body), bodies))
    assert all(response.status_code < 500 for response in replays), {r.status_code for r in replays}
    assert [response.status_code for response in replays] == [201] * 200
    assert [response.json()["id"] for response in replays] == ids
    assert all(response.headers.get("Idempotent-Replayed") == "true" for response in replays)

    # The same body 20 times at the same instant: one lead, twenty identical answers.
    racing = leads.lead(rng, external_ref="journey-race")
    with ThreadPoolExecutor(max_workers=20) as pool:
        raced = list(pool.map(lambda _: partner.api.post("/api/intake/v1/leads", json=racing), range(20)))
    assert {response.status_code for response in raced} == {201}
    assert len({response.json()["id"] for response in raced}) == 1

    wait_until(lambda: stack.outbox_backlog("intake") == 0, timeout=20, message="intake outbox drained")
    wait_until(lambda: stack.queue_depth("reporting.events") == 0, timeout=20, message="reporting queue drained")
    wait_until(lambda: kpi_leads(admin, channel=partner.channel) == 201, timeout=20, message="201 leads")
    rows = stack.sql("intake", "SELECT COUNT(*) FROM leads WHERE partner_id = :p", p=partner.partner_id)
    assert rows[0][0] == 201
    archived = stack.sql("reporting", "SELECT COUNT(*) FROM lead_facts WHERE channel = :c", c=partner.channel)
    assert archived[0][0] == 201


def test_a_changed_body_under_a_used_external_ref_is_a_conflict(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "鲁信助贷")
    rng = random.Random(7)
    body = leads.lead(rng, external_ref="conflict-1")
    assert partner.api.post("/api/intake/v1/leads", json=body).status_code == 201
    changed = partner.api.post("/api/intake/v1/leads", json={**body, "amount": body["amount"] + 1})
    assert changed.status_code == 409
    assert changed.json()["code"] == "external_ref_reused"


def test_partner_over_its_quota_gets_429_with_retry_after_while_another_partner_goes_on(
    stack: Stack, admin: Api
) -> None:
    limited = register_partner(stack, admin, "限流合作方")
    other = register_partner(stack, admin, "正常合作方")
    assert admin.put(f"/api/intake/v1/partners/{limited.partner_id}/quota", json={"per_minute": 5}).status_code == 200
    rng = random.Random(11)
    answers = [limited.api.post("/api/intake/v1/leads", json=leads.lead(rng)) for _ in range(12)]
    accepted = [answer for answer in answers if answer.status_code == 201]
    refused = [answer for answer in answers if answer.status_code == 429]
    # The burst takes a few seconds at most, so it spans at most one minute boundary: at most 2 x 5 accepted.
    assert len(accepted) + len(refused) == 12
    assert 5 <= len(accepted) <= 10 and refused
    for answer in refused:
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.json()["code"] == "partner_quota_exceeded"
    assert other.api.post("/api/intake/v1/leads", json=leads.lead(rng)).status_code == 201
