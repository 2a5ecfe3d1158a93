"""The broker crashes (SIGKILL, three times, under load) and an event nobody is bound for."""

from __future__ import annotations

import time

import amqp

from loanbridge.common.events.broker import connect
from loanbridge.common.events.topology import EXCHANGE, UNROUTABLE_QUEUE
from loanbridge.common.testing.servers import OwnMariaDB, OwnRabbitMQ
from loanbridge.common.testing.waiting import wait_until
from tests.chaos import harness
from tests.integration.support import Api, Stack

BROKER_OUTAGE_SECONDS = 8


def test_three_broker_crashes_under_load_lose_nothing_and_apply_nothing_twice(
    chaos_stack: Stack, chaos_admin: Api, own_servers: tuple[OwnMariaDB, OwnRabbitMQ]
) -> None:
    database, broker = own_servers
    partner = harness.partner_without_quota(chaos_stack, chaos_admin, "混沌-断代理")
    load = harness.LoadGenerator(partner, count=harness.scale(10_000), rate=harness.rate(), prefix="a", seed=1001)
    nemesis = harness.Nemesis(chaos_stack, broker, database)
    with harness.DeliveryTally(chaos_stack) as tally:
        load.start()
        kills = harness.at(
            [load.duration * share for share in (0.15, 0.4, 0.65)],
            lambda: nemesis.kill_broker(BROKER_OUTAGE_SECONDS),
            start=load.started_at,
        )
        outcomes = load.join()
        kills.join()
        last_restart = nemesis.windows[-1].healed
        harness.wait_drained(chaos_stack, timeout=300)
        drained_after = time.monotonic() - last_restart
    result = harness.reconcile(chaos_stack, partner, outcomes)
    during, failed = harness.error_rate(outcomes, nemesis)
    harness.print_figures(
        f"broker SIGKILLed {len(nemesis.windows)} times during {load.count} leads at {load.rate:.0f}/s",
        [
            *result.lines(),
            f"requests during the outages {during}, not acknowledged {failed} ({failed / max(during, 1):.3%})",
            f"outages (kill to node answering) s: {[round(w.healed - w.began, 1) for w in nemesis.windows]}",
            f"drained {drained_after:.1f} s after the last restart "
            f"({time.monotonic() - load.finished_at:.1f} s after the last lead was answered)",
            f"duplicates delivered: {tally.redelivered} redelivered, {tally.duplicates} skipped by an inbox",
            *harness.run_figures(outcomes),
        ],
    )
    assert len(nemesis.windows) == 3
    assert result.lost == 0, result.lines()
    assert result.unexpected_unexplained == [], result.unexpected_unexplained[:10]
    assert result.applied_twice == 0, result.lines()
    assert drained_after <= 120
    assert failed <= 0.001 * during, f"{failed} of {during} failed during the outages"
    assert tally.redelivered + tally.duplicates > 0, "no duplicate was delivered: the run proved nothing"


def test_an_event_with_an_unbound_routing_key_reaches_the_alternate_exchange_and_its_metric(
    chaos_stack: Stack,
) -> None:
    before = chaos_stack.queue_depth(UNROUTABLE_QUEUE)
    worker = chaos_stack.worker_url("intake")
    metric_before = chaos_stack.metric(worker, "loanbridge_queue_messages", role="unroutable")
    envelope = harness.spend_event("unbound", "1").to_json().encode()
    connection = connect(chaos_stack.broker_url(via_proxy=False))
    try:
        connection.channel().basic_publish_confirm(
            amqp.Message(envelope, delivery_mode=2, type="chaos.nobody.listens"),
            exchange=EXCHANGE,
            routing_key="chaos.nobody.listens.v1",
            mandatory=True,
            confirm_timeout=5,
        )
    finally:
        connection.release()
    wait_until(lambda: chaos_stack.queue_depth(UNROUTABLE_QUEUE) == before + 1, timeout=10, message="in the AE queue")
    metric = wait_until(
        lambda: (
            chaos_stack.metric(worker, "loanbridge_queue_messages", role="unroutable") >= before + 1
            and chaos_stack.metric(worker, "loanbridge_queue_messages", role="unroutable")
        ),
        timeout=20,
        message="unroutable depth in /metrics",
    )
    harness.print_figures(
        "an event with an unbound routing key",
        [
            f"{UNROUTABLE_QUEUE} depth {before} -> {before + 1}",
            f"loanbridge_queue_messages{{role=unroutable}} {metric_before:.0f} -> {metric:.0f}",
        ],
    )
