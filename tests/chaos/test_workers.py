"""Relays and consumers crash (SIGKILL, one every 5 s, the whole run): nothing is lost or applied twice."""

from __future__ import annotations

import itertools
from collections import Counter

from loanbridge.common.testing.servers import OwnMariaDB, OwnRabbitMQ
from tests.chaos import harness
from tests.integration.support import Api, Stack

KILL_EVERY_SECONDS = 5.0


def test_workers_killed_every_five_seconds_lose_nothing_and_apply_nothing_twice(
    chaos_stack: Stack, chaos_admin: Api, own_servers: tuple[OwnMariaDB, OwnRabbitMQ]
) -> None:
    database, broker = own_servers
    partner = harness.partner_without_quota(chaos_stack, chaos_admin, "混沌-杀进程")
    count = harness.scale(10_000)
    load = harness.LoadGenerator(partner, count=count, rate=harness.rate(), prefix="c", seed=3003)
    nemesis = harness.Nemesis(chaos_stack, broker, database)
    # intake's worker relays every lead event; workflow's, risk's and reporting's consume them.
    victims = itertools.cycle(["intake-worker", "workflow-worker", "reporting-worker", "risk-worker"])
    offsets = [KILL_EVERY_SECONDS * n for n in range(1, int(load.duration / KILL_EVERY_SECONDS) + 1)]
    with harness.DeliveryTally(chaos_stack) as tally:
        load.start()
        kills = harness.at(offsets, lambda: nemesis.kill_process(next(victims)), start=load.started_at)
        outcomes = load.join()
        kills.join()
        harness.wait_drained(chaos_stack, timeout=300)
    result = harness.reconcile(chaos_stack, partner, outcomes)
    killed = Counter(window.what.split()[0] for window in nemesis.windows)
    harness.print_figures(
        f"a relay or consumer SIGKILLed every {KILL_EVERY_SECONDS:.0f} s during {count} leads at {load.rate:.0f}/s",
        [
            *result.lines(),
            f"kills {len(nemesis.windows)}: {dict(killed)}; restart to ready s: max "
            f"{max((w.healed - w.began for w in nemesis.windows), default=0):.1f}",
            f"duplicates delivered: {tally.redelivered} redelivered, {tally.duplicates} skipped by an inbox "
            "(lower bounds: a killed worker's last second is not counted)",
            *harness.run_figures(outcomes),
        ],
    )
    assert result.lost == 0, result.lines()
    assert result.applied_twice == 0, result.lines()
    assert result.unexpected_unexplained == []
    assert result.acknowledged == count, result.statuses
    assert tally.redelivered + tally.duplicates > 0, "no duplicate was delivered: the run proved nothing"
