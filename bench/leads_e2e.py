"""Leads end to end, distributed mode: accepted leads per second through the gateway and directly against
intake, and lead → KPI latency at a steady offered rate.

    .venv/bin/python bench/leads_e2e.py [--leads 3000] [--clients 16] [--rate 100] [--seconds 30]

It starts its own stack (own databases and RabbitMQ virtual host on the local servers, as the integration
suite does), so it needs MariaDB, RabbitMQ and nginx. Lead → KPI latency is measured per lead from its commit
in intake (``leads.created_at``) to its commit in reporting's archive (``event_archive.received_at``), the
row reporting's KPIs count.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loanbridge.common.testing.waiting import wait_until  # noqa: E402
from tests.integration import leads  # noqa: E402
from tests.integration.support import Api, Partner, kpi_leads, password_token, register_partner, running_stack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def burst(base: str, partner: Partner, *, count: int, clients: int, seed: int, prefix: str) -> tuple[float, int]:
    """Post ``count`` leads as fast as ``clients`` concurrent clients can; return (leads/s, non-201 answers)."""
    rng = random.Random(seed)
    bodies = [leads.lead(rng, external_ref=f"{prefix}-{n}") for n in range(count)]
    local = threading.local()

    def post(body: dict) -> int:
        if not hasattr(local, "api"):
            local.api = Api(base, partner.api.session.headers["Authorization"].split()[1])
        return local.api.post("/api/intake/v1/leads", json=body).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        statuses = list(pool.map(post, bodies))
    elapsed = time.perf_counter() - started
    return count / elapsed, sum(status != 201 for status in statuses)


def steady(stack, partner: Partner, *, rate: float, seconds: float, seed: int) -> list[float]:
    """Offer ``rate`` leads/s for ``seconds``; return each lead's intake → reporting latency in ms."""
    rng = random.Random(seed)
    count = int(rate * seconds)
    bodies = [leads.lead(rng, external_ref=f"steady-{n}") for n in range(count)]
    started = time.perf_counter()
    ids: list[str] = []

    def post(index: int) -> None:
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        answer = partner.api.post("/api/intake/v1/leads", json=bodies[index])
        if answer.status_code == 201:
            ids.append(answer.json()["id"])

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(post, range(count)))
    wait_until(
        lambda: (
            stack.sql("reporting", "SELECT COUNT(*) FROM lead_facts WHERE channel = :c", c=partner.channel)[0][0]
            >= len(ids)
        ),
        timeout=120,
        message="steady leads in reporting",
    )
    created = dict(stack.sql("intake", "SELECT id, created_at FROM leads WHERE channel = :c", c=partner.channel))
    received = dict(
        stack.sql(
            "reporting",
            "SELECT subject, received_at FROM event_archive WHERE event_type = 'intake.lead.created'",
        )
    )
    return [(received[lead_id] - created[lead_id]).total_seconds() * 1000 for lead_id in ids if lead_id in received]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=3000, help="leads per throughput burst")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the bursts")
    parser.add_argument("--rate", type=float, default=100.0, help="offered leads/s for the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp)) as stack:
        stack.cli("create-admin", "--username", "bench", "--password", "bench-admin-1")
        admin = Api(stack.gateway, password_token(stack.gateway, "bench", "bench-admin-1"))
        gateway_partner = register_partner(stack, admin, "压测合作方一")
        direct_partner = register_partner(stack, admin, "压测合作方二")
        steady_partner = register_partner(stack, admin, "压测合作方三")
        for partner in (gateway_partner, direct_partner, steady_partner):
            assert (
                admin.put(
                    f"/api/intake/v1/partners/{partner.partner_id}/quota", json={"per_minute": 100000}
                ).status_code
                == 200
            )

        via_gateway, gateway_errors = burst(
            stack.gateway, gateway_partner, count=args.leads, clients=args.clients, seed=1, prefix="gw"
        )
        direct, direct_errors = burst(
            stack.web_url("intake"), direct_partner, count=args.leads, clients=args.clients, seed=2, prefix="direct"
        )
        wait_until(
            lambda: kpi_leads(admin, channel=gateway_partner.channel) == args.leads,
            timeout=180,
            message="burst leads in KPIs",
        )
        latencies = steady(stack, steady_partner, rate=args.rate, seconds=args.seconds, seed=3)

    print(
        f"leads accepted through the gateway: {via_gateway:8.1f} /s  ({args.leads} leads, {args.clients} clients, "
        f"{gateway_errors} non-201)"
    )
    print(f"leads accepted by intake directly:  {direct:8.1f} /s  ({direct_errors} non-201)")
    print(f"gateway / direct:                   {via_gateway / direct:8.2f}")
    print(
        f"lead -> KPI latency at {args.rate:.0f} leads/s for {args.seconds:.0f} s ({len(latencies)} leads): "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
