"""Submission -> ``risk.evaluation.completed`` published, distributed mode, at a steady offered rate.

    .venv/bin/python bench/risk_latency.py [--rate 50] [--seconds 30]

It starts its own stack on the local MariaDB, RabbitMQ and nginx (as bench/leads_e2e.py does), enters the
leads first, then submits them through the gateway at ``--rate`` per second. Each submission's latency runs
from the commit of ``intake.application.submitted`` in intake's outbox (``outbox.created_at``) to the broker's
confirm of ``risk.evaluation.completed`` in risk's outbox (``outbox.published_at``): intake's relay, the
broker, risk's consumer (evaluation, storage, its outbox) and risk's relay. Both clocks are MariaDB's. The
submissions start once every consumer has drained the leads' events (risk grades each new lead).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu  # noqa: E402
from loanbridge.common.testing.waiting import wait_until  # noqa: E402
from tests.integration import leads  # noqa: E402
from tests.integration.support import Api, password_token, running_stack  # noqa: E402

FORM = {"employer_type": "private", "social_security_months": 24, "monthly_income": 15000,
        "monthly_debt_payment": 5000, "credit_inquiries_3m": 3, "overdue_count_24m": 0}  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def salesperson(stack) -> Api:
    stack.cli("create-admin", "--username", "bench", "--password", "bench-admin-1")
    admin = Api(stack.gateway, password_token(stack.gateway, "bench", "bench-admin-1"))
    body = {"username": "bench.sales", "password": "bench-sales-1", "display_name": "压测业务员", "roles": ["sales"]}
    assert admin.post("/api/identity/v1/users", json=body).status_code == 201
    return Api(stack.gateway, password_token(stack.gateway, "bench.sales", "bench-sales-1"))


def enter_leads(sales: Api, count: int) -> list[str]:
    rng = random.Random(5)
    bodies = [{**leads.lead(rng, product="credit"), "channel": "douyin", "form": FORM} for _ in range(count)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda body: sales.post("/api/intake/v1/leads", json=body), bodies))
    assert all(answer.status_code == 201 for answer in answers)
    return [answer.json()["id"] for answer in answers]


def submit_steadily(sales: Api, lead_ids: list[str], rate: float) -> int:
    started, errors = time.perf_counter(), []

    def submit(index: int) -> None:
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if sales.post(f"/api/intake/v1/leads/{lead_ids[index]}/submit").status_code != 201:
            errors.append(index)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(submit, range(len(lead_ids))))
    return len(errors)


STAGES = ("intake relay", "broker + risk consumer", "risk relay")


def latencies(stack, lead_ids: list[str]) -> list[tuple[float, ...]]:
    """Per submission: the total, then the time in each stage, in ms."""

    def published() -> int:
        return stack.sql("risk", "SELECT COUNT(*) FROM outbox WHERE event_type = 'risk.evaluation.completed' "
                                 "AND published_at IS NOT NULL")[0][0]  # fmt: skip

    wait_until(lambda: published() >= len(lead_ids), timeout=300, message="every evaluation published")
    submitted = {row[0]: row[1:] for row in stack.sql("intake", "SELECT subject, created_at, published_at FROM outbox "
                                                      "WHERE event_type = 'intake.application.submitted'")}  # fmt: skip
    evaluated = {row[0]: row[1:] for row in stack.sql("risk", "SELECT subject, created_at, published_at FROM outbox "
                                                      "WHERE event_type = 'risk.evaluation.completed'")}  # fmt: skip

    def ms(a, b) -> float:
        return (b - a).total_seconds() * 1000

    return [
        (ms(submitted[lead][0], evaluated[lead][1]), ms(*submitted[lead]), ms(submitted[lead][1], evaluated[lead][0]),
         ms(*evaluated[lead]))
        for lead in lead_ids
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), through_proxies=False, web_workers=3) as stack:
        sales = salesperson(stack)
        warm_up, measured = enter_leads(sales, 50), enter_leads(sales, int(args.rate * args.seconds))
        # Every consumer (risk grades each new lead) must be done with the leads, or submissions queue behind them.
        wait_until(stack.drained, timeout=300, interval=1, message="every outbox and queue drained")
        submit_steadily(sales, warm_up, args.rate)
        wait_until(stack.drained, timeout=300, interval=1, message="the warm-up's events consumed")
        before = stack.cpu_seconds()
        errors = submit_steadily(sales, measured, args.rate)
        wait_until(stack.drained, timeout=300, interval=1, message="the submissions' events consumed")
        after = stack.cpu_seconds()
        found = latencies(stack, warm_up + measured)[len(warm_up) :]
    total = [row[0] for row in found]
    print(
        f"submission -> risk.evaluation.completed published, {args.rate:.0f} submissions/s for {args.seconds:.0f} s "
        f"({len(found)} submissions, {errors} errors): p50 {statistics.median(total):.0f} ms, "
        f"p99 {percentile(total, 99):.0f} ms, max {max(total):.0f} ms"
    )
    for index, stage in enumerate(STAGES, start=1):
        spent = [row[index] for row in found]
        print(f"  {stage:24s} p50 {statistics.median(spent):5.0f} ms  p99 {percentile(spent, 99):5.0f} ms")
    cpu.report("submission", before, after, len(measured), rate=args.rate)


if __name__ == "__main__":
    main()
