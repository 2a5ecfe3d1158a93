"""Poison events among good ones: each is retried, then dead-lettered, and nothing else is held up."""

from __future__ import annotations

import random
import time

from loanbridge.common.events.broker import connect
from loanbridge.common.events.consumer import ATTEMPT_HEADER
from tests.chaos import harness
from tests.integration.support import Stack


def dead_letters(stack: Stack, queue: str) -> list[dict]:
    """The headers of every message in a dead-letter queue (read, then left there: nothing is acknowledged)."""
    connection = connect(stack.broker_url(via_proxy=False))
    headers = []
    try:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=False)) is not None:
            headers.append(
                {**(message.properties.get("application_headers") or {}), "id": message.properties.get("message_id")}
            )
    finally:
        connection.release()  # unacknowledged: back to the queue
    return headers


def test_poison_events_are_dead_lettered_after_their_attempts_and_every_good_event_is_applied(
    chaos_stack: Stack,
) -> None:
    total = harness.scale(10_000)
    poison_count = max(1, total // 100)
    run = f"cd{random.randrange(10**6):06d}"
    good = [harness.spend_event(f"{run}-{n}", "1000.00") for n in range(total)]
    poison = [harness.spend_event(f"{run}-poison-{n}", "不是金额") for n in range(poison_count)]
    events = good + poison
    random.Random(4).shuffle(events)
    dlq_before = chaos_stack.queue_depth("reporting.events.dlq")
    began = time.monotonic()
    with harness.DeliveryTally(chaos_stack) as tally:
        harness.publish_envelopes(chaos_stack, events)
        took = harness.wait_drained(
            chaos_stack,
            timeout=300,
            also=lambda: chaos_stack.queue_depth("reporting.events.dlq") >= dlq_before + poison_count,
        )
    applied = chaos_stack.sql("reporting", "SELECT COUNT(*) FROM channel_spend WHERE channel LIKE :p", p=f"{run}-%")[0][
        0
    ]
    archived_poison = chaos_stack.sql(
        "reporting", "SELECT COUNT(*) FROM event_archive WHERE subject LIKE :p", p=f"{run}-poison-%"
    )[0][0]
    ours = {envelope.id for envelope in poison}
    letters = [h for h in dead_letters(chaos_stack, "reporting.events.dlq") if h["id"] in ours]
    deliveries = [int(h.get(ATTEMPT_HEADER, 0)) + 1 for h in letters]
    harness.print_figures(
        f"{poison_count} poison events among {total} good ones",
        [
            f"published {len(events)} in {time.monotonic() - began - took:.1f} s, drained in {took:.1f} s",
            f"applied {applied} (good events), poison archived {archived_poison}",
            f"dead-lettered {len(letters)} of {poison_count}; deliveries each: max {max(deliveries, default=0)}, "
            f"counts {dict(sorted({d: deliveries.count(d) for d in deliveries}.items()))}",
            f"redelivered {tally.redelivered}, duplicates skipped {tally.duplicates}",
        ],
    )
    assert applied == total
    assert archived_poison == 0
    assert len(letters) == poison_count
    assert max(deliveries) <= 5
