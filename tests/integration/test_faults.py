"""Nothing accepted is lost or applied twice: a broker cut off, a consumer killed, a poison event, an event
nobody is bound for."""

from __future__ import annotations

import random
import signal

import amqp
import requests

from loanbridge.common.events.broker import connect
from loanbridge.common.events.topology import EXCHANGE, UNROUTABLE_QUEUE
from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import Api, Partner, Stack, kpi_leads, register_partner


def post_leads(partner: Partner, rng: random.Random, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        response = partner.api.post("/api/intake/v1/leads", json=leads.lead(rng, external_ref=f"{prefix}-{n}"))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def wait_for_kpi(admin: Api, partner: Partner, expected: int, timeout: float = 60) -> None:
    wait_until(
        lambda: kpi_leads(admin, channel=partner.channel) == expected,
        timeout=timeout,
        message=f"{expected} leads in KPIs",
    )


def test_leads_are_accepted_while_the_broker_is_cut_off_and_arrive_once_after(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "断网合作方")
    rng = random.Random(101)
    stack.broker_proxy.cut()
    try:
        wait_until(
            lambda: requests.get(f"{stack.worker_url('intake')}/readyz", timeout=2).status_code == 503,
            timeout=30,
            message="intake worker not ready without the broker",
        )
        post_leads(partner, rng, 50, "outage")
        assert requests.get(f"{stack.web_url('intake')}/readyz", timeout=2).status_code == 200
        assert stack.outbox_backlog("intake") >= 50
        assert kpi_leads(admin, channel=partner.channel) == 0
    finally:
        stack.broker_proxy.heal()
    wait_for_kpi(admin, partner, 50)
    wait_until(lambda: stack.outbox_backlog("intake") == 0, timeout=30, message="outbox drained")
    assert stack.sql("reporting", "SELECT COUNT(*) FROM lead_facts WHERE channel = :c", c=partner.channel)[0][0] == 50


def test_a_consumer_killed_mid_stream_loses_nothing_and_applies_nothing_twice(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "宕机合作方")
    rng = random.Random(202)
    # A backlog waits while the consumer is paused; then it resumes and is killed with messages in hand.
    stack.kill("reporting-worker", signal.SIGSTOP)
    try:
        post_leads(partner, rng, 300, "crash")
        wait_until(lambda: stack.outbox_backlog("intake") == 0, timeout=30, message="backlog published")
    finally:
        stack.kill("reporting-worker", signal.SIGCONT)
    wait_until(lambda: stack.queue_depth("reporting.events") < 300, timeout=30, message="consumer took some")
    stack.kill("reporting-worker", signal.SIGKILL)
    stack.restart("reporting-worker")
    wait_for_kpi(admin, partner, 300)
    worker = stack.worker_url("reporting")
    assert stack.metric(worker, "loanbridge_events_redelivered_total") > 0, "the kill caused no redelivery"

    # A crash between the commit and the acknowledgement: the redelivered event is dropped by the inbox.
    stack.restart("reporting-worker", extra_env={"LOANBRIDGE_FAILPOINTS": "consumer.after_commit=exit@1"})
    post_leads(partner, rng, 10, "after-commit")
    wait_until(lambda: stack.pid("reporting-worker") is None, timeout=30, message="worker died at the failpoint")
    stack.restart("reporting-worker")
    wait_for_kpi(admin, partner, 310)
    assert stack.metric(worker, "loanbridge_events_duplicates_total") >= 1
    assert stack.metric(worker, "loanbridge_events_retried_total") == 0, "a redelivery was treated as a failure"
    assert stack.sql("reporting", "SELECT COUNT(*) FROM lead_facts WHERE channel = :c", c=partner.channel)[0][0] == 310


def test_a_poison_event_is_retried_then_dead_lettered_and_replayed_once_fixed(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "毒消息合作方")
    rng = random.Random(303)
    worker = stack.worker_url("reporting")
    # A bug in reporting's handler, simulated by a failpoint: every event it consumes fails.
    stack.restart("reporting-worker", extra_env={"LOANBRIDGE_FAILPOINTS": "consumer.before_apply=raise"})
    try:
        post_leads(partner, rng, 1, "poison")
        # The lead's other events (its assignment, its grade) fail too and may reach the DLQ first.
        wait_until(
            lambda: stack.metric(worker, "loanbridge_events_dead_lettered_total", type="intake.lead.created") >= 1,
            timeout=30,
            message="the lead's event dead-lettered",
        )
        assert stack.queue_depth("reporting.events.dlq") >= 1
        assert stack.metric(worker, "loanbridge_events_retried_total", reason="failed") >= 3
        wait_until(
            lambda: stack.metric(worker, "loanbridge_queue_messages", role="dead_letter") >= 1,
            timeout=15,
            message="DLQ depth in /metrics",
        )
        assert kpi_leads(admin, channel=partner.channel) == 0
    finally:
        stack.restart("reporting-worker")  # the fix is deployed (and the next tests get a working reporting)
    replayed = stack.cli("replay-dlq", "reporting")
    assert "replayed" in replayed
    wait_for_kpi(admin, partner, 1, timeout=30)
    wait_until(lambda: stack.queue_depth("reporting.events.dlq") == 0, timeout=15, message="DLQ empty")


def test_an_event_no_queue_is_bound_for_reaches_the_alternate_exchange_and_its_metric(stack: Stack) -> None:
    before = stack.queue_depth(UNROUTABLE_QUEUE)
    connection = connect(stack.broker_url(via_proxy=False))
    try:
        connection.channel().basic_publish_confirm(
            amqp.Message(b'{"type": "nobody.listens.here"}', delivery_mode=2, type="nobody.listens.here"),
            exchange=EXCHANGE,
            routing_key="nobody.listens.here.v1",
            mandatory=True,
            confirm_timeout=5,
        )
    finally:
        connection.release()
    wait_until(lambda: stack.queue_depth(UNROUTABLE_QUEUE) == before + 1, timeout=10, message="in the AE queue")
    worker = stack.worker_url("intake")
    wait_until(
        lambda: stack.metric(worker, "loanbridge_queue_messages", role="unroutable") >= before + 1,
        timeout=15,
        message="unroutable depth in /metrics",
    )
