"""Partner quotas in the distributed mode, through the gateway: a burst past one partner's minute quota, sent
concurrently to intake's several gunicorn workers (the count is shared in MariaDB), gets 429 with Retry-After for
at least 99% of the excess while another partner's leads keep being accepted. The other partner's latencies are
printed, not gated (two shared cores are noisy)."""

from __future__ import annotations

import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import requests

from loanbridge.common.testing.synthetic import SyntheticPeople
from tests.integration import leads
from tests.integration.support import Api, Partner, Stack, register_partner

QUOTA, EXCESS = 20, 200
OTHER_EVERY = 4  # the other partner sends one lead for every four of the limited one's
BURST_SECONDS = 40  # the burst must fit in one quota minute


def wait_for_a_fresh_minute() -> None:
    left = 60 - datetime.now(UTC).second
    if left < BURST_SECONDS:
        time.sleep(left + 0.5)


def post_leads(partner: Partner, bodies: list[dict[str, Any]]) -> list[tuple[requests.Response, float]]:
    def post(body: dict[str, Any]) -> tuple[requests.Response, float]:
        started = time.perf_counter()
        answer = requests.post(
            f"{partner.api.base}/api/intake/v1/leads", json=body, headers=partner.api.session.headers, timeout=30
        )
        return answer, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(post, bodies))


def test_a_partner_over_quota_gets_429_with_retry_after_and_another_keeps_succeeding(stack: Stack, admin: Api) -> None:
    limited, other = register_partner(stack, admin, "限额合作方"), register_partner(stack, admin, "另一合作方")
    assert admin.put(f"/api/intake/v1/partners/{limited.partner_id}/quota", json={"per_minute": QUOTA}).ok
    people, rng = SyntheticPeople(seed=4290), random.Random(4290)

    def bodies(prefix: str, count: int) -> list[dict[str, Any]]:
        return [
            leads.lead(
                rng, external_ref=f"{prefix}-{n}", mobile=people.next_mobile(), id_number=people.next_id_number()
            )
            for n in range(count)
        ]

    burst, steady = bodies("quota-a", QUOTA + EXCESS), bodies("quota-b", (QUOTA + EXCESS) // OTHER_EVERY)
    wait_for_a_fresh_minute()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as senders:
        limited_answers = senders.submit(post_leads, limited, burst)
        other_answers = senders.submit(post_leads, other, steady)
        answers, others = limited_answers.result(), other_answers.result()
    elapsed = time.monotonic() - started

    statuses = [answer.status_code for answer, _ in answers]
    refused = [
        answer
        for answer, _ in answers
        if answer.status_code == 429
        and answer.json()["code"] == "partner_quota_exceeded"
        and int(answer.headers.get("Retry-After", "0")) >= 1
    ]
    latencies = sorted(seconds * 1000 for _, seconds in others)
    print(
        f"quota through the gateway: {statuses.count(201)} accepted, {len(refused)}/{EXCESS} of the excess got 429 "
        f"with Retry-After, in {elapsed:.1f} s; the other partner {sum(a.status_code == 201 for a, _ in others)}/"
        f"{len(others)} accepted, latency ms p50 {statistics.median(latencies):.0f}, "
        f"p99 {latencies[int(len(latencies) * 0.99)]:.0f}, max {latencies[-1]:.0f}"
    )
    assert elapsed < BURST_SECONDS, "the burst spilled into the next quota minute"
    assert set(statuses) <= {201, 429}, statuses
    assert statuses.count(201) == QUOTA, statuses
    assert len(refused) >= 0.99 * EXCESS
    assert [answer.status_code for answer, _ in others] == [201] * len(others)
