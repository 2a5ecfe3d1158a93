"""Leads end to end, distributed mode: accepted leads per second through the gateway and directly against
intake, and lead → KPI latency at a steady offered rate.

    .venv/bin/python bench/leads_e2e.py [--embedded] [--seconds 20] [--connections 16] [--rate 100]
                                        [--steady-seconds 30]

Throughput is offered by wrk (Debian package ``wrk``) as a partner's client posting unique leads; the steady
run uses Python clients at a fixed rate. It starts its own stack (own databases and RabbitMQ virtual host on
the local servers, as the integration suite does, but without the fault proxies), so it needs MariaDB,
RabbitMQ and nginx. Lead → KPI latency is measured per lead from its commit in intake (``leads.created_at``)
to its commit in reporting's archive (``event_archive.received_at``), the row reporting's KPIs count. After
the steady run it prints the CPU each process spent per lead until every consumer was done with it, and the
cores that rate needs.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu  # noqa: E402
from loanbridge.common.testing.waiting import wait_until  # noqa: E402
from tests.embedded.support import EmbeddedProcess  # noqa: E402
from tests.integration import leads  # noqa: E402
from tests.integration.support import Api, Partner, kpi_leads, password_token, register_partner, running_stack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


WRK_SCRIPT = """
token = "%(token)s"
local counter = 0
local threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
request = function()
  counter = counter + 1
  local n = tid * 10000000 + counter
  local body = string.format(
    '{"name":"王伟","mobile":"139%%08d","city":"济南","product":"house","amount":300000,' ..
    '"term_months":36,"purpose":"经营周转","external_ref":"%(prefix)s-%%d"}', n %% 100000000, n)
  return wrk.format("POST", "/api/intake/v1/leads",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
"""


def burst(base: str, partner: Partner, *, seconds: int, connections: int, prefix: str) -> tuple[float, str]:
    """Post leads as fast as wrk's ``connections`` can for ``seconds``; return (leads/s, wrk's error line)."""
    token = partner.api.session.headers["Authorization"].split()[1]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"token": token, "prefix": prefix})
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script.name, base],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    return rate, f"{errors.group(1)} non-2xx" if errors else "0 non-2xx"


def drained(stack, admin: Api, partner: Partner) -> None:
    """Wait until reporting counts every lead intake accepted for the partner."""

    def caught_up() -> bool:
        accepted = stack.sql("intake", "SELECT COUNT(*) FROM leads WHERE channel = :c", c=partner.channel)[0][0]
        return kpi_leads(admin, channel=partner.channel) == accepted

    wait_until(caught_up, timeout=300, message="reporting caught up")


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
    return [
        (as_datetime(received[lead_id]) - as_datetime(created[lead_id])).total_seconds() * 1000
        for lead_id in ids
        if lead_id in received
    ]


def as_datetime(value: datetime | str) -> datetime:
    """SQLite hands timestamps back as text to a raw query; MariaDB as datetimes."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded", action="store_true", help="measure the embedded mode (loanbridge run)")
    parser.add_argument("--seconds", type=int, default=20, help="length of each throughput burst")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections in the bursts")
    parser.add_argument("--rate", type=float, default=100.0, help="offered leads/s for the latency run")
    parser.add_argument("--steady-seconds", type=float, default=30.0, help="length of the latency run")
    args = parser.parse_args()
    if args.embedded:
        measure_embedded(args)
    else:
        measure_distributed(args)


def partners(stack, names: list[str]) -> tuple[Api, list[Partner]]:
    """The bench's admin and partners, each partner's quota lifted out of the way."""
    stack.cli("create-admin", "--username", "bench", "--password", "bench-admin-1")
    admin = Api(stack.gateway, password_token(stack.gateway, "bench", "bench-admin-1"))
    made = [register_partner(stack, admin, name) for name in names]
    for partner in made:
        lifted = admin.put(f"/api/intake/v1/partners/{partner.partner_id}/quota", json={"per_minute": 100000})
        assert lifted.status_code == 200, lifted.text
    return admin, made


def measure_distributed(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), through_proxies=False, web_workers=3) as stack:
        admin, (warm_up_partner, via_gateway_partner, direct_partner, steady_partner) = partners(
            stack, ["预热", "压测一", "压测二", "压测三"]
        )
        # A short warm-up first (connection pools, caches, the database's buffer pool), so that neither
        # measured burst pays for it.
        burst(stack.gateway, warm_up_partner, seconds=5, connections=args.connections, prefix="warm-up")
        drained(stack, admin, warm_up_partner)
        via_gateway, gateway_errors = burst(
            stack.gateway, via_gateway_partner, seconds=args.seconds, connections=args.connections, prefix="gw"
        )
        drained(stack, admin, via_gateway_partner)
        direct, direct_errors = burst(
            stack.web_url("intake"), direct_partner, seconds=args.seconds, connections=args.connections, prefix="direct"
        )
        drained(stack, admin, direct_partner)
        before = stack.cpu_seconds()
        latencies = steady(stack, steady_partner, rate=args.rate, seconds=args.steady_seconds, seed=3)
        wait_until(stack.drained, timeout=300, interval=1, message="the steady leads' events consumed")
        after = stack.cpu_seconds()

    print(
        f"distributed mode, leads accepted through the gateway: {via_gateway:7.1f} /s  "
        f"(wrk, {args.connections} connections, {args.seconds} s; {gateway_errors})"
    )
    print(f"distributed mode, leads accepted by intake directly:  {direct:7.1f} /s  ({direct_errors})")
    print(f"gateway / direct: {via_gateway / direct:.2f}")
    report_latency(args, latencies)
    cpu.report("lead (the steady run, until every consumer was done)", before, after, len(latencies), rate=args.rate)


def measure_embedded(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedProcess(var_dir=Path(tmp) / "var")
        embedded.start()
        try:
            admin, (burst_partner, steady_partner) = partners(embedded, ["压测一", "压测三"])
            rate, errors = burst(
                embedded.url, burst_partner, seconds=args.seconds, connections=args.connections, prefix="embedded"
            )
            drained(embedded, admin, burst_partner)
            latencies = steady(embedded, steady_partner, rate=args.rate, seconds=args.steady_seconds, seed=3)
        finally:
            embedded.stop()
    print(
        f"embedded mode, leads accepted: {rate:7.1f} /s  (wrk, {args.connections} connections, {args.seconds} s; "
        f"{errors})"
    )
    report_latency(args, latencies)


def report_latency(args: argparse.Namespace, latencies: list[float]) -> None:
    print(
        f"lead -> KPI latency at {args.rate:.0f} leads/s for {args.steady_seconds:.0f} s ({len(latencies)} leads): "
        f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
