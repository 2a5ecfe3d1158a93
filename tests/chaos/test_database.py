"""The database crashes (SIGKILL, twice, under load): what was acknowledged survives, and while it is down the
API answers 503 at once (no 500, no hang)."""

from __future__ import annotations

import os
import time
from collections import Counter

import requests

from loanbridge.common.testing.servers import OwnMariaDB, OwnRabbitMQ
from tests.chaos import harness
from tests.integration.support import Api, Stack

DATABASE_OUTAGE_SECONDS = 8


def test_two_database_crashes_keep_every_acknowledged_lead_and_answer_503_quickly_meanwhile(
    chaos_stack: Stack, chaos_admin: Api, own_servers: tuple[OwnMariaDB, OwnRabbitMQ]
) -> None:
    database, broker = own_servers
    partner = harness.partner_without_quota(chaos_stack, chaos_admin, "混沌-断数据库")
    # A lower rate than the other runs: the target is how quickly a request is answered while the database is
    # down, which a saturated machine (two shared cores) would blur with its own queueing.
    count = harness.scale(5_000)
    load = harness.LoadGenerator(partner, count=count, rate=min(harness.rate(), 25), prefix="b", seed=2002, timeout=30)
    nemesis = harness.Nemesis(chaos_stack, broker, database)
    began = time.time()
    with harness.DeliveryTally(chaos_stack) as tally:
        load.start()
        kills = harness.at(
            [load.duration * share for share in (0.25, 0.6)],
            lambda: nemesis.kill_database(DATABASE_OUTAGE_SECONDS),
            start=load.started_at,
        )
        outcomes = load.join()
        kills.join()
        harness.wait_drained(chaos_stack, timeout=300)
    result = harness.reconcile(chaos_stack, partner, outcomes)
    # While the server was down (kill to restart), every answer must be quick; a 503 is right, a 500 never.
    down = [o for o in outcomes if nemesis.during(o.started)]
    slow = [o for o in down if o.latency > 2.0]
    errors = [o for o in outcomes if o.status is not None and o.status >= 500 and o.status != 503]
    # What intake itself took for its 503s (its log): the client's latency less the queueing in front of it.
    served = harness.answered_by(chaos_stack, "intake", "/api/intake/v1/leads", status=503, since=began)
    # A lead whose COMMIT reached the server just before it died may exist though its client got a 503: the
    # partner resolves it by retrying with the same external_ref, which must answer the lead already stored.
    resolved = {}
    for ref in result.unexpected:
        body = load.bodies[int(ref.rsplit("-", 1)[1])]
        answer = partner.api.post("/api/intake/v1/leads", json=body)
        resolved[ref] = answer.status_code
    harness.print_figures(
        f"database SIGKILLed {len(nemesis.windows)} times during {count} leads at {load.rate:.0f}/s",
        [
            *result.lines(),
            f"outages (kill to server answering) s: {[round(w.healed - w.began, 1) for w in nemesis.windows]}",
            f"requests during the outages {len(down)}: answers "
            f"{dict(sorted(Counter(str(o.status) for o in down).items()))}; over 2 s: {len(slow)}; "
            f"max {max((o.latency for o in down), default=0):.2f} s",
            f"intake's own time for its 503s s: p50 {harness.percentile(served, 50):.2f}, max "
            f"{max(served, default=0):.2f}; over 1 s: {sum(1 for t in served if t > 1)} of {len(served)}",
            f"5xx other than 503: {len(errors)}",
            f"unexpected leads resolved by a retry with the same external_ref: {resolved}",
            f"duplicates delivered: {tally.redelivered} redelivered, {tally.duplicates} skipped by an inbox",
            *harness.run_figures(outcomes),
            f"load average at the end {os.getloadavg()[0]:.1f}",
        ],
    )
    assert len(nemesis.windows) == 2
    assert result.lost_intake == [], "an acknowledged lead is missing after the restart"
    assert result.lost == 0, result.lines()
    assert result.applied_twice == 0, result.lines()
    assert errors == [], [(o.status, o.code) for o in errors[:10]]
    assert slow == [], [(o.status, round(o.latency, 2)) for o in slow[:10]]
    assert all(o.status in (201, 503) for o in down), Counter(o.status for o in down)
    unexplained = [ref for ref in result.unexpected_unexplained if resolved.get(ref) not in (200, 201)]
    assert unexplained == [], unexplained
    assert requests.get(f"{chaos_stack.web_url('intake')}/readyz", timeout=2).status_code == 200
