"""Transition API latency: ``POST /api/workflow/v1/cases/{id}/transitions`` at a steady offered rate, distributed
mode, through the gateway.

    .venv/bin/python bench/workflow_transitions.py [--rate 100] [--seconds 30] [--web-workers 3] [--workers-paused]
    .venv/bin/python bench/workflow_transitions.py --in-process [--count 2000] [--database-url URL] [--count-calls]

It starts its own stack on the local MariaDB, RabbitMQ and nginx (as bench/risk_latency.py does), has a
salesperson enter ``rate × seconds`` leads (each becomes a case assigned to them through intake.lead.created),
waits until workflow holds them all, then moves each from ``assigned`` to ``pre_review`` at ``--rate`` per second
and prints the latency percentiles as the client saw them (target: p99 under 50 ms at 100 requests/s) and as
workflow's web logged them, how long the consumers took after the last answer to finish every event the
transitions caused (the workers yield the CPU to the webs, ``LOANBRIDGE_WORKER_NICE``; set it to 0 to compare),
then the CPU time each process spent per transition (/proc; the shared MariaDB and RabbitMQ included, so run it
on an otherwise idle machine). The load generator's own CPU is printed apart.

``--workers-paused`` stops every service's worker (SIGSTOP) while the transitions are sent and resumes them
after the last answer: the API alone on the machine's cores, its events waiting in the outbox, as in a deployment
whose consumers run on other nodes; "consumers done" is then the time the resumed workers took to catch up.

``--in-process`` measures the handler alone instead: workflow on SQLite (or a throw-away MariaDB database,
``--database-url mysql+pymysql://root@127.0.0.1:3306/lbbench_{service}``) in this process, its Flask test client,
one transition after another (no gateway, no concurrency), with the CPU each took, the SQL statements each ran
and, with ``--count-calls``, the Python calls each made.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu  # noqa: E402
from loanbridge.common.db import drop_database, migrate_database  # noqa: E402
from loanbridge.common.events.envelope import Envelope  # noqa: E402
from loanbridge.common.service import get  # noqa: E402
from loanbridge.common.testing import harness  # noqa: E402
from loanbridge.common.testing.waiting import wait_until  # noqa: E402
from tests.integration import leads  # noqa: E402
from tests.integration.support import Api, password_token, running_stack  # noqa: E402


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
    rng = random.Random(11)
    bodies = [{**leads.lead(rng), "channel": "douyin"} for _ in range(count)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda body: sales.post("/api/intake/v1/leads", json=body), bodies))
    assert all(answer.status_code == 201 for answer in answers)
    return [answer.json()["id"] for answer in answers]


def move_steadily(sales: Api, case_ids: list[str], rate: float) -> tuple[list[float], int, float]:
    """Send the transitions at ``rate`` a second, open-loop (each at its planned time, however long the earlier
    ones take); answers the latencies, the errors and the CPU the load generator spent per request. Each thread
    keeps one connection to the gateway open and sends through ``http.client``: ``requests`` cost about 2 ms of
    CPU a request here, a fifth of a core at 100/s taken from the suite being measured."""
    gateway = urlsplit(sales.base)
    headers = {"Authorization": sales.session.headers["Authorization"], "Content-Type": "application/json"}
    body = json.dumps({"to": "pre_review", "reason": "压测"})
    connections = threading.local()
    started, latencies, errors = time.perf_counter(), [], []

    def move(index: int) -> None:
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if not hasattr(connections, "gateway"):
            connections.gateway = http.client.HTTPConnection(gateway.hostname, gateway.port, timeout=30)
        sent = time.perf_counter()
        connections.gateway.request("POST", f"/api/workflow/v1/cases/{case_ids[index]}/transitions", body, headers)
        response = connections.gateway.getresponse()
        response.read()
        latencies.append((time.perf_counter() - sent) * 1000)
        if response.status != 200:
            errors.append(index)

    cpu_started = time.process_time()
    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(move, range(len(case_ids))))
    return latencies, len(errors), (time.process_time() - cpu_started) * 1000 / len(case_ids)


def served_in_workflow(log_file: Path) -> list[float]:
    """The time each transition took inside workflow's web (``duration_ms`` of its request log), in log order:
    set beside the client's latency, the difference is the gateway, the queue before a free worker thread and
    the client itself."""
    durations = []
    for line in log_file.read_text(encoding="utf-8").splitlines():
        if '"http_request"' not in line:  # gunicorn's own lines are plain text
            continue
        record = json.loads(line)
        if record["endpoint"].endswith("/transitions"):
            durations.append(record["duration_ms"])
    return durations


def in_process(count: int, database_url: str | None, *, count_calls: bool) -> None:
    """Transitions through the Flask test client of workflow (SQLite, or ``database_url``), one at a time, with
    the SQL statements each ran and, with ``count_calls``, the Python calls each made (cProfile; the times are
    then the profiler's): counts that do not move with the machine's load, as the CPU times do."""
    import cProfile
    import pstats
    import uuid

    import sqlalchemy as sa

    with tempfile.TemporaryDirectory() as tmp:
        tokens = harness.TokenFactory()
        environ = harness.environment_for_tests(Path(tmp))
        if database_url:
            environ["LOANBRIDGE_DATABASE_URL"] = database_url
            migrate_database(database_url.replace("{service}", "workflow"), get("workflow").migrations)
        service = harness.service_runtime("workflow", environ, tokens=tokens)
        case_ids = []
        for _ in range(count):
            lead_id = str(uuid.uuid4())
            data = {"lead_id": lead_id, "customer_id": str(uuid.uuid4()), "product": "house", "amount": 300000,
                    "term_months": 36, "purpose": None, "channel": "douyin", "partner_id": None, "city": "济南",
                    "submitted_by": "bench-sales", "duplicate_outcome": "new_customer", "features": {},
                    "created_at": "2026-12-01T02:00:00Z"}  # fmt: skip
            event = Envelope.new(source="intake", event_type="intake.lead.created", subject=lead_id, sequence=1,
                                 data=data, correlation_id=lead_id, causation_id=None, actor=None)  # fmt: skip
            harness.deliver([event], service.runtime)
            case_ids.append(lead_id)
        client = service.client()
        headers = tokens.header(subject="bench-sales", roles=["sales"], ttl=3600)
        statements = []
        sa.event.listen(service.runtime.database.engine, "before_cursor_execute", lambda *_: statements.append(1))
        profiler = cProfile.Profile() if count_calls else None
        latencies, cpu_started = [], time.process_time()
        for case_id in case_ids:
            sent = time.perf_counter()
            if profiler:
                profiler.enable()
            response = client.post(f"/api/workflow/v1/cases/{case_id}/transitions", json={"to": "pre_review"},
                                   headers=headers)  # fmt: skip
            if profiler:
                profiler.disable()
            latencies.append((time.perf_counter() - sent) * 1000)
            assert response.status_code == 200, response.get_json()
        cpu_ms = (time.process_time() - cpu_started) * 1000 / count
        dialect = service.runtime.database.engine.dialect.name
        print(f"transitions       {count} in process on {dialect}, one at a time, {cpu_ms:.1f} ms of CPU each")
        print(f"statements        {len(statements) / count:.1f} a transition")
        if profiler:
            print(f"python calls      {pstats.Stats(profiler).total_calls / count:.0f} a transition")
        for q in (50, 95, 99):
            print(f"p{q:<16}{percentile(latencies, q):.1f} ms")
        service.runtime.database.dispose()
        if database_url:
            drop_database(database_url.replace("{service}", "workflow"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--database-url", help="with --in-process: a throw-away database, {service} in its name")
    parser.add_argument("--count-calls", action="store_true", help="with --in-process: Python calls a transition")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers per web (2 threads each)")
    parser.add_argument(
        "--workers-paused", action="store_true", help="stop every worker while the transitions are sent, resume after"
    )
    args = parser.parse_args()
    if args.in_process:
        in_process(args.count, args.database_url, count_calls=args.count_calls)
        return
    count = int(args.rate * args.seconds)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(Path(tmp), through_proxies=False, web_workers=args.web_workers) as stack,
    ):
        sales = salesperson(stack)
        case_ids = enter_leads(sales, count)

        def all_assigned() -> bool:
            rows = stack.sql("workflow", "SELECT COUNT(*) FROM cases WHERE stage = 'assigned'")
            return rows[0][0] >= count

        wait_until(all_assigned, timeout=300, message="workflow never assigned every case")
        # Every consumer (risk grades each lead, intake and reporting project the assignments) must be done with
        # the leads too, or the transitions would share the two cores with that backlog.
        wait_until(stack.drained, timeout=300, interval=1, message="every outbox and queue drained")
        workers = [f"{service}-worker" for service in stack.layout.services] if args.workers_paused else []
        for worker in workers:
            stack.kill(worker, signal.SIGSTOP)
        before = stack.cpu_seconds()
        try:
            latencies, errors, client_cpu_ms = move_steadily(sales, case_ids, args.rate)
            last_answer = time.perf_counter()
        finally:  # a stopped worker would not stop with the stack
            for worker in workers:
                stack.kill(worker, signal.SIGCONT)
        wait_until(stack.drained, timeout=300, interval=1, message="the transitions' events consumed")
        drained_after = time.perf_counter() - last_answer
        after = stack.cpu_seconds()
        print(f"transitions       {count} at {args.rate:.0f}/s offered, {errors} errors")
        nice = os.environ.get("LOANBRIDGE_WORKER_NICE", "10")
        workers_ran = "paused until the last answer" if workers else f"at nice {nice}"
        print(f"consumers done    {drained_after:.1f} s after the last answer (workers {workers_ran})")
        served = served_in_workflow(stack.var_dir / "log" / "workflow-web.log")[-count:]
        print("latency           as the client saw it | inside workflow's web (its request log)")
        for q in (50, 95, 99):
            print(f"p{q:<16}{percentile(latencies, q):6.1f} ms | {percentile(served, q):6.1f} ms")
        print(f"max               {max(latencies):6.1f} ms | {max(served):6.1f} ms")
        cpu.report("transition", before, after, count, rate=args.rate)
        print(f"  {'(load generator)':24s} {client_cpu_ms:5.1f} ms, not counted above")


if __name__ == "__main__":
    main()
