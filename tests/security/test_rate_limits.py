"""Partner quotas and login lock-out, in process: a partner over its minute quota gets 429 with Retry-After for
(at least 99% of) every request past it while another partner keeps going, and a staff account locks after five
failed logins. Latencies of the other partner are printed, not gated (two shared cores are noisy)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.testing.synthetic import SyntheticPeople
from tests.security.suite import Suite, start_suite

API = "/api/intake/v1"
QUOTA, EXCESS = 20, 200


@pytest.fixture
def suite(tmp_path: Any) -> Iterator[Suite]:
    started = start_suite(tmp_path, services=("identity", "intake"))
    yield started
    started.dispose()


def lead(people: SyntheticPeople, n: int) -> dict[str, Any]:
    return {
        "name": "测试客户",
        "mobile": people.next_mobile(),
        "id_number": people.next_id_number(),
        "city": "济南",
        "product": "credit",
        "amount": 50000,
        "term_months": 12,
        "external_ref": f"Q-{n}",
    }


def test_a_partner_over_quota_gets_429_with_retry_after_and_another_partner_keeps_succeeding(suite: Suite) -> None:
    client, admin, tokens = suite.client("intake"), suite.admin_header("intake"), suite.tokens
    partners = {}
    for code in ("quota_a", "quota_b"):
        claims = {"subject": f"p_{code}", "roles": ["partner"], "partner_id": f"partner-{code}"}
        body = {"code": code, "name": code, "kind": "partner", "partner_id": claims["partner_id"]}
        assert client.post(f"{API}/channels", json=body, headers=admin).status_code == 201
        partners[code] = claims
    quota = {"per_minute": QUOTA}
    assert client.put(f"{API}/partners/partner-quota_a/quota", json=quota, headers=admin).status_code == 200
    people = SyntheticPeople(seed=429)

    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC))):  # one quota minute for the whole burst
        over, other = tokens.header(**partners["quota_a"]), tokens.header(**partners["quota_b"])
        answers, others, latencies = [], [], []
        for n in range(QUOTA + EXCESS):
            answers.append(client.post(f"{API}/leads", json=lead(people, n), headers=over))
            if n % 4 == 0:
                started = time.perf_counter()
                others.append(client.post(f"{API}/leads", json=lead(people, 10_000 + n), headers=other).status_code)
                latencies.append(time.perf_counter() - started)

    accepted = [answer.status_code for answer in answers[:QUOTA]]
    excess = answers[QUOTA:]
    limited = [a for a in excess if a.status_code == 429 and int(a.headers.get("Retry-After", "0")) >= 1]
    print(
        f"quota: {len(limited)}/{len(excess)} of the excess got 429 with Retry-After; other partner "
        f"{others.count(201)}/{len(others)} accepted, median {statistics.median(latencies) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    assert accepted == [201] * QUOTA
    assert len(limited) >= 0.99 * EXCESS
    assert all(answer.get_json()["code"] == "partner_quota_exceeded" for answer in limited)
    assert others == [201] * len(others)


def test_five_failed_logins_lock_the_account_and_leave_others_signing_in(suite: Suite) -> None:
    client, admin = suite.client("identity"), suite.admin_header("identity")
    for username in ("lock.me", "not.me"):
        body = {"username": username, "password": "right-password-1", "display_name": "员工", "roles": ["sales"]}
        assert client.post("/api/identity/v1/users", json=body, headers=admin).status_code == 201

    def login(username: str, password: str) -> Any:
        form = {"grant_type": "password", "username": username, "password": password}
        return client.post("/api/identity/v1/token", data=form)

    failures = [login("lock.me", f"wrong-{n}").status_code for n in range(5)]
    locked = login("lock.me", "right-password-1")
    other = login("not.me", "right-password-1")

    assert failures == [401] * 5
    assert locked.status_code == 423
    assert locked.get_json()["code"] == "account_locked"
    assert int(locked.headers["Retry-After"]) > 0
    assert "access_token" not in locked.get_json()
    assert other.status_code == 200
