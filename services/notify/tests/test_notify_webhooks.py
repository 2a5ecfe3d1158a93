"""Webhooks for external systems: a registered URL gets the events it subscribed to, signed, retried with
exponential back-off for up to 24 hours, every attempt in its log, and an operator can redeliver."""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import notify_fakes as fakes
import pytest
import sqlalchemy as sa

from loanbridge.common import clock as clocks
from loanbridge.notify import orm
from loanbridge.notify.handlers import webhooks

API = "/api/notify/v1"
DOC = Path(__file__).resolve().parents[3] / "docs" / "notify.md"


class Receiver:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[dict[str, Any]] = []

    def handle(self, request: Any, body: bytes) -> tuple[int, Any]:
        status = self.statuses.pop(0) if self.statuses else 200
        self.received.append({"headers": dict(request.headers), "body": body, "status": status})
        return status, {}


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    found = Receiver()
    with fakes.http_server(found.handle) as base:
        yield f"{base}/hooks/loanbridge", found


def documented_verifier() -> Any:
    """The verification example of docs/notify.md, run as a receiver would paste it."""
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None, "docs/notify.md has no python example"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    return namespace["verify_signature"]


def register(client: Any, as_user: Any, url: str, types: list[str]) -> dict[str, Any]:
    response = client.post(
        f"{API}/webhooks",
        json={"name": "财务系统", "url": url, "event_types": types},
        headers=as_user("admin-1", "admin"),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def repayment(loan_id: str | None = None) -> dict[str, Any]:
    return {
        "loan_id": loan_id or str(uuid.uuid4()),
        "case_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "installment": 1,
        "reference": "FIN-0001",
        "paid_at": "2026-03-02T02:00:00Z",
        "amount": 8900,
    }


def test_an_endpoint_that_fails_three_times_then_answers_gets_the_event_once_with_a_valid_signature(
    notify: Any, client: Any, as_user: Any, deliver: Any, receiver: Any, clock: Any
) -> None:
    url, found = receiver
    hook = register(client, as_user, url, ["workflow.repayment.recorded"])
    found.statuses = [500, 503, 502]
    event = deliver("workflow.repayment.recorded", repayment())

    for _ in range(6):
        webhooks.deliver_due(notify.runtime)
        clock.advance(timedelta(minutes=5))

    statuses = [r["status"] for r in found.received]
    success = [r for r in found.received if r["status"] == 200]
    log = client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=as_user("ops-1", "ops")).get_json()["items"]
    assert statuses == [500, 503, 502, 200]
    (delivered,) = success
    verify = documented_verifier()
    headers = delivered["headers"]
    assert verify(
        hook["secret"],
        headers["X-LoanBridge-Timestamp"],
        delivered["body"],
        headers["X-LoanBridge-Signature"],
        now=int(headers["X-LoanBridge-Timestamp"]),
    )
    assert not verify(
        "another-secret", headers["X-LoanBridge-Timestamp"], delivered["body"], headers["X-LoanBridge-Signature"]
    )
    assert json.loads(delivered["body"])["id"] == event.id == headers["X-LoanBridge-Event-Id"]
    (entry,) = log
    assert (entry["status"], entry["attempts"]) == ("delivered", 4)
    assert [(a["attempt"], a["status_code"], a["outcome"]) for a in entry["log"]] == [
        (1, 500, "error"), (2, 503, "error"), (3, 502, "error"), (4, 200, "delivered"),
    ]  # fmt: skip


def test_retries_back_off_exponentially(
    notify: Any, client: Any, as_user: Any, deliver: Any, receiver: Any, clock: Any
) -> None:
    url, found = receiver
    register(client, as_user, url, ["workflow.repayment.recorded"])
    found.statuses = [500] * 10
    deliver("workflow.repayment.recorded", repayment())

    attempts_at = []
    for _ in range(4 * 60):
        if webhooks.deliver_due(notify.runtime):
            attempts_at.append(clocks.now())
        clock.advance(timedelta(seconds=15))

    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(attempts_at)]
    assert gaps[:5] == [30, 60, 120, 240, 480]


def test_a_delivery_is_given_up_after_24_hours_and_an_operator_can_redeliver_it(
    notify: Any, client: Any, as_user: Any, deliver: Any, receiver: Any, clock: Any
) -> None:
    url, found = receiver
    hook = register(client, as_user, url, ["workflow.repayment.recorded"])
    found.statuses = [500] * 100
    deliver("workflow.repayment.recorded", repayment())

    for _ in range(60):
        webhooks.deliver_due(notify.runtime)
        clock.advance(timedelta(hours=1))
    ops = as_user("ops-1", "ops")
    (given_up,) = client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=ops).get_json()["items"]
    found.statuses = []
    redelivered = client.post(f"{API}/webhooks/{hook['id']}/deliveries/{given_up['id']}/redeliver", headers=ops)
    webhooks.deliver_due(notify.runtime)
    (after,) = client.get(f"{API}/webhooks/{hook['id']}/deliveries", headers=ops).get_json()["items"]

    assert given_up["status"] == "failed"
    last_try = clocks.parse_iso(given_up["log"][-1]["at"].replace("+00:00", "Z"))
    first_try = clocks.parse_iso(given_up["log"][0]["at"].replace("+00:00", "Z"))
    assert timedelta(hours=20) <= last_try - first_try <= timedelta(hours=24)
    assert redelivered.status_code == 202
    assert (after["status"], after["log"][-1]["outcome"]) == ("delivered", "delivered")


def test_only_subscribed_event_types_are_delivered_and_a_redelivered_event_is_queued_once(
    notify: Any, client: Any, as_user: Any, new_event: Any, receiver: Any
) -> None:
    from loanbridge.common.testing import harness

    url, found = receiver
    register(client, as_user, url, ["workflow.loan.settled"])
    settled = new_event(
        "workflow.loan.settled",
        {"loan_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()),
         "settled_at": "2026-03-02T02:00:00Z"},
    )  # fmt: skip
    other = new_event("workflow.repayment.recorded", repayment())

    harness.deliver([settled, other, settled], notify.runtime)
    webhooks.deliver_due(notify.runtime)

    assert [r["headers"]["X-LoanBridge-Event-Type"] for r in found.received] == ["workflow.loan.settled"]


def test_a_webhook_for_an_unknown_event_type_is_refused(client: Any, as_user: Any) -> None:
    response = client.post(
        f"{API}/webhooks",
        json={"name": "x", "url": "http://127.0.0.1:9/x", "event_types": ["workflow.loan.exploded"]},
        headers=as_user("admin-1", "admin"),
    )

    assert response.status_code == 422
    assert "event_types" in response.get_json()["details"]["fields"]


def test_the_secret_is_shown_once_never_listed_and_stored_sealed(notify: Any, client: Any, as_user: Any) -> None:
    created = register(client, as_user, "http://127.0.0.1:9/x", ["workflow.loan.settled"])

    listed = client.get(f"{API}/webhooks", headers=as_user("admin-1", "admin")).get_json()["items"]
    with notify.runtime.database.session() as session:
        stored = session.execute(sa.select(orm.webhooks.c.secret)).scalar_one()

    assert len(created["secret"]) >= 32
    assert listed[0]["id"] == created["id"] and "secret" not in listed[0]
    assert created["secret"] not in stored
