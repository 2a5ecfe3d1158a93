"""The network between the services and their broker or database fails (scenario f), under load: a 30 s black
hole, TCP resets every second for 10 s, then 500 ms of latency on every round trip for 30 s, on the broker's
fault proxy in one run and on the database's in the other.

Targets: nothing lost, nothing applied twice; no publish blocks past its confirm timeout (the relays' batches
and the consumers' retries publish with confirms, ``LOANBRIDGE_CONFIRM_TIMEOUT``, 5 s by default; their times
are in ``loanbridge_events_publish_seconds``); and after each fault heals a canary lead, posted by a partner of
its own, is processed end to end (intake, workflow case, reporting fact) within 20 s.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import pytest

from loanbridge.common.testing.servers import OwnMariaDB, OwnRabbitMQ
from loanbridge.common.testing.synthetic import SyntheticPeople
from tests.chaos import harness
from tests.integration import leads
from tests.integration.support import Api, Stack

BEFORE_THE_FIRST_FAULT = 10.0
CANARY_WITHIN = 20.0
LATENCY_EACH_WAY = 0.25  # 500 ms a round trip
FAULTS: tuple[tuple[str, float, dict[str, float]], ...] = (
    ("black_hole", 30.0, {}),
    ("reset", 10.0, {"every": 1.0}),
    ("delay", 30.0, {"seconds": LATENCY_EACH_WAY}),
)
# The load runs while the faults do: each fault, then up to CANARY_WITHIN for its canary (a canary that takes
# longer holds the next fault back; the load stops after the last canary).
TIMELINE = BEFORE_THE_FIRST_FAULT + sum(duration + CANARY_WITHIN for _mode, duration, _kwargs in FAULTS)


@pytest.mark.parametrize("proxy", ["broker", "database"], ids=["amqp", "sql"])
def test_black_hole_resets_and_latency_lose_nothing_block_no_publish_and_consumers_resume(
    proxy: str, chaos_stack: Stack, chaos_admin: Api, own_servers: tuple[OwnMariaDB, OwnRabbitMQ]
) -> None:
    database, broker = own_servers
    partner = harness.partner_without_quota(chaos_stack, chaos_admin, f"混沌-网络-{proxy}")
    canaries = harness.partner_without_quota(chaos_stack, chaos_admin, f"混沌-金丝雀-{proxy}")
    confirm_timeout = float(chaos_stack.env.get("LOANBRIDGE_CONFIRM_TIMEOUT") or 5.0)
    # A load the suite keeps up with on two shared cores (about 7 leads/s): the faults are the subject, not a
    # backlog of the machine's own, which would hold the canaries behind it. Leads beyond the timeline are
    # offered only while a slow canary holds the last fault back.
    count = harness.scale(1_000)
    rate = min(harness.rate(), count / TIMELINE)
    # Requests held by a black-holed database wait for their read timeout (10 s): enough of them in flight that
    # the offered rate holds meanwhile.
    load = harness.LoadGenerator(
        partner, count=2 * count, rate=rate, prefix=f"f{proxy[0]}", seed=6006, concurrency=max(64, int(rate * 12))
    )
    nemesis = harness.Nemesis(chaos_stack, broker, database)
    people = SyntheticPeople(6060 + len(proxy))
    canary_bodies = [
        leads.lead(
            random.Random(n),
            external_ref=f"canary-{proxy}-{n}-{time.time_ns()}",
            mobile=people.next_mobile(),
            id_number=people.next_id_number(),
        )
        for n in range(len(FAULTS))
    ]
    recovered: dict[str, float] = {}

    def faults() -> None:
        time.sleep(max(0.0, load.started_at + BEFORE_THE_FIRST_FAULT - time.monotonic()))
        for (mode, duration, kwargs), body in zip(FAULTS, canary_bodies, strict=True):
            window = nemesis.proxy_fault(proxy, mode, duration, **kwargs)
            recovered[mode] = harness.canary(canaries, chaos_stack, body, since=window.healed, timeout=60)
            time.sleep(max(0.0, window.healed + CANARY_WITHIN - time.monotonic()))
        load.stop()

    with harness.DeliveryTally(chaos_stack) as tally, harness.PublishTimes(chaos_stack) as publishes:
        load.start()
        nemesis_thread = threading.Thread(target=faults, name="chaos-network", daemon=True)
        nemesis_thread.start()
        outcomes = load.join()
        nemesis_thread.join()
        drained = harness.wait_drained(chaos_stack, timeout=300)
    result = harness.reconcile(chaos_stack, partner, outcomes)
    resolved = harness.resolve_unexpected(result, load)
    unexplained = [ref for ref in result.unexpected_unexplained if resolved.get(ref) not in (200, 201)]
    past_timeout = publishes.past(confirm_timeout + 1)
    harness.print_figures(
        f"network faults on the {proxy} proxy during {len(outcomes)} leads at {load.rate:.1f}/s",
        [
            *result.lines(),
            *(
                f"{window.what} {window.healed - window.began:.1f} s: requests sent {len(sent)}, answers "
                f"{dict(sorted(Counter(str(o.status or 'no answer') for o in sent).items()))}; canary processed "
                f"{recovered.get(window.what.split()[-1], float('inf')):.1f} s after healing"
                for window in nemesis.windows
                for sent in [[o for o in outcomes if window.holds(o.started)]]
            ),
            f"publishes with confirms {publishes.count()} ({publishes.count('failed')} failed), all "
            f"{publishes.slowest()}; past the confirm timeout ({confirm_timeout:g} s) + 1 s: {past_timeout}",
            f"unexpected leads resolved by a retry with the same external_ref: {dict(Counter(resolved.values()))}",
            f"drained {drained:.1f} s after the last lead was answered",
            f"duplicates delivered: {tally.redelivered} redelivered, {tally.duplicates} skipped by an inbox",
            *harness.run_figures(outcomes),
            f"load average at the end {os.getloadavg()[0]:.1f}",
        ],
    )
    assert len(nemesis.windows) == len(FAULTS)
    assert result.lost == 0, result.lines()
    assert result.applied_twice == 0, result.lines()
    assert unexplained == [], unexplained[:10]
    assert past_timeout == 0, f"{past_timeout} publishes blocked past their confirm timeout"
    assert publishes.count() > 0
    if proxy == "broker":
        assert publishes.count("failed") > 0, "no publish met the faults: the run proved nothing"
    slow = {mode: seconds for mode, seconds in recovered.items() if seconds > CANARY_WITHIN}
    assert len(recovered) == len(FAULTS) and slow == {}, f"canaries past {CANARY_WITHIN:g} s: {slow}"
