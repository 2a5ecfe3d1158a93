"""reporting's KPI endpoints over the facts of 1,000,000 leads, and ingest into its read models.

    .venv/bin/python bench/reporting_kpis.py [--leads 1000000] [--queries 40] [--events 20000]
                                            [--mariadb | --own-mariadb 8G] [--ingest-only] [--ingest-batches 100,1]
                                            [--profile]

It makes its own reporting database (SQLite in a temporary folder, or with --mariadb a database on the local
MariaDB, dropped at the end) and fills the read models with a year of synthetic facts: leads on 16 cities, 6
channels, 3 products, 200 salespeople in 20 teams, with risk evaluations, lender submissions, loans (some overdue)
and stage visits in proportions like a real firm's. Then:

- each KPI endpoint, through reporting's own Flask app (token check, schemas, views), ``--queries`` times with a
  filter set (a random month, one channel, one product; the leaderboard one team), p50 and p95 in ms;
- beside it, the same question asked of the raw facts with GROUP BY: each fact (evaluation, submission, loan,
  stage visit) joined to its lead for the filters and grouped, the funnel milestones found by joins, instead of
  the read models' milestones on each lead and the lead columns copied onto each fact; the ratio raw / read
  model (the raw side is SQL alone, the read side the whole HTTP request);
- ingest: ``--events`` events of realistic shapes applied through reporting's real handlers and inbox, in the
  consumer's batches (100 a transaction) and one a transaction, in events/s, with the SQL statements sent per
  event (a multi-row INSERT counts once, an executemany of another statement once per row: the round trips) and
  the CPU the bench's process spent per event (Python, SQLAlchemy and the driver; with SQLite, its engine too).

``--ingest-only`` measures the ingest alone, into empty read models (or, with ``--leads N``, after filling the
facts of N leads); ``--ingest-batches 100`` leaves out the one-a-transaction run; ``--profile`` prints where the
Python time of the batched ingest goes (cProfile, the top 25 by own time).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loanbridge.common.auth import StaticKeys  # noqa: E402
from loanbridge.common.db import drop_database, migrate_database  # noqa: E402
from loanbridge.common.events.envelope import Envelope  # noqa: E402
from loanbridge.common.events.inbox import apply_events  # noqa: E402
from loanbridge.common.runtime import Runtime  # noqa: E402
from loanbridge.common.service import get  # noqa: E402
from loanbridge.common.testing.harness import TokenFactory, environment_for_tests  # noqa: E402
from loanbridge.common.testing.servers import OwnMariaDB  # noqa: E402
from loanbridge.reporting import orm  # noqa: E402

BATCH = 20_000
START = date(2025, 12, 1)
DAYS = 365
CHANNELS = ("douyin", "baidu", "ground", "referral", "rongtong_api", "xinda_api")
PRODUCTS = ("house", "credit", "car")
CITIES = (
    "济南",
    "青岛",
    "淄博",
    "枣庄",
    "东营",
    "烟台",
    "潍坊",
    "济宁",
    "泰安",
    "威海",
    "日照",
    "临沂",
    "德州",
    "聊城",
    "滨州",
    "菏泽",
)
TEAMS = [str(uuid.UUID(int=10_000 + n)) for n in range(20)]
STAFF = [str(uuid.UUID(int=20_000 + n)) for n in range(200)]
PATH = ("assigned", "pre_review", "plan_matching", "risk_review", "contract", "disbursed")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def lead_id(n: int) -> str:
    return str(uuid.UUID(int=n + 1))


def fill(engine: sa.Engine, count: int, rng: random.Random) -> None:
    """A year of facts for ``count`` leads, written in batches."""
    started = time.perf_counter()
    tables: dict[sa.Table, list[dict[str, Any]]] = {
        orm.lead_facts: [],
        orm.risk_evaluations: [],
        orm.lender_submissions: [],
        orm.loan_facts: [],
        orm.stage_visits: [],
    }

    def flush(force: bool = False) -> None:
        with engine.begin() as connection:
            for table, rows in tables.items():
                if rows and (force or len(rows) >= BATCH):
                    connection.execute(table.insert(), rows)
                    rows.clear()

    for n in range(count):
        day = START + timedelta(days=n * DAYS // count)
        created = datetime(day.year, day.month, day.day, 1 + n % 10)
        owner = STAFF[n % len(STAFF)]
        row: dict[str, Any] = {
            "lead_id": lead_id(n), "customer_id": lead_id(n), "channel": CHANNELS[rng.randrange(6)],
            "product": PRODUCTS[rng.randrange(3)], "city": CITIES[rng.randrange(16)], "partner_id": None,
            "submitted_by": owner, "amount": rng.randrange(50, 2000) * 1000, "business_day": day,
            "occurred_at": created, "last_sequence": 1, "owner_id": owner, "team_id": TEAMS[(n % len(STAFF)) // 10],
            "owner_sequence": 1, "stage": "assigned", "stage_sequence": 2, "submitted_at": None,
            "risk_approved_at": None, "lender_submitted_at": None, "lender_approved_at": None, "disbursed_at": None,
        }  # fmt: skip
        # Each step reached with a chance given the one before: 60% submit, 70% of those pass risk, ...,
        # about 9% of leads disbursed.
        steps = 1
        for chance in (0.6, 0.7, 0.7, 0.6, 0.5):
            if rng.random() >= chance:
                break
            steps += 1
        at = created
        for index, stage in enumerate(PATH[:steps]):
            left = at + timedelta(hours=rng.randrange(2, 120)) if index < steps - 1 else None
            tables[orm.stage_visits].append({
                "lead_id": row["lead_id"], "sequence": index + 2, "stage": stage,
                "from_stage": "new" if index == 0 else PATH[index - 1], "entered_at": at, "left_at": left,
                "left_day": left.date() if left else None,
                **{name: row[name] for name in orm.LEAD_COPIES},
            })  # fmt: skip
            if left:
                at = left
        row["stage"] = PATH[steps - 1]
        if steps >= 2:
            row["submitted_at"] = created + timedelta(days=1)
            decision = "approve" if steps >= 3 else rng.choice(("reject", "review"))
            tables[orm.risk_evaluations].append({
                "evaluation_id": lead_id(n), "lead_id": row["lead_id"], "evaluated_product": row["product"],
                "decision": decision, "evaluated_at": created + timedelta(days=2),
                "business_day": day + timedelta(days=2), **{name: row[name] for name in orm.LEAD_COPIES},
            })  # fmt: skip
        if steps >= 3:
            row["risk_approved_at"] = created + timedelta(days=2)
        if steps >= 4:
            row["lender_submitted_at"] = created + timedelta(days=4)
            approved = steps >= 5
            tables[orm.lender_submissions].append({
                "submission_id": lead_id(n), "lead_id": row["lead_id"], "lender": "齐鲁银行", "lender_product": "快贷",
                "amount": row["amount"], "submitted_at": created + timedelta(days=4),
                "business_day": day + timedelta(days=4), "decision": "approved" if approved else "declined",
                "approved_amount": row["amount"] if approved else None, "decided_at": created + timedelta(days=6),
                "decided_day": day + timedelta(days=6), **{name: row[name] for name in orm.LEAD_COPIES},
            })  # fmt: skip
        if steps >= 5:
            row["lender_approved_at"] = created + timedelta(days=6)
        if steps >= 6:
            row["disbursed_at"] = created + timedelta(days=9)
            disbursed = day + timedelta(days=9)
            worst = rng.choice((None, None, None, None, 5, 35, 95))
            tables[orm.loan_facts].append({
                "loan_id": lead_id(n), "lead_id": row["lead_id"], "lender": "齐鲁银行", "principal": row["amount"],
                "commission": row["amount"] * 0.02, "disbursed_at": created + timedelta(days=9),
                "business_day": disbursed, "vintage": f"{disbursed.year:04d}-{disbursed.month:02d}",
                "worst_days_past_due": worst, "worst_sequence": 3 if worst else None,
                "worst_outstanding": row["amount"] * 0.8 if worst else None, "settled_at": None,
                **{name: row[name] for name in orm.LEAD_COPIES},
            })  # fmt: skip
        tables[orm.lead_facts].append(row)
        if len(tables[orm.lead_facts]) >= BATCH:
            flush(force=True)
        if n and n % 200_000 == 0:
            print(f"  {n:>9,} leads written ({time.perf_counter() - started:.0f} s)")
    flush(force=True)
    with engine.begin() as connection:
        connection.execute(orm.staff.insert(), [
            {"user_id": user, "display_name": f"销售{index:03d}", "team_id": TEAMS[index // 10], "active": True,
             "last_sequence": 1} for index, user in enumerate(STAFF)
        ])  # fmt: skip
        connection.execute(
            orm.teams.insert(),
            [
                {"team_id": team, "name": f"团队{i:02d}", "manager_id": None, "last_sequence": 1}
                for i, team in enumerate(TEAMS)
            ],
        )
        months = sorted(
            {f"{(START + timedelta(days=d)).year}-{(START + timedelta(days=d)).month:02d}" for d in range(DAYS)}
        )
        connection.execute(
            orm.channel_spend.insert(),
            [{"channel": c, "month": m, "amount": 50_000, "last_sequence": 1} for c in CHANNELS for m in months],
        )
        if engine.dialect.name == "sqlite":
            connection.execute(sa.text("ANALYZE"))
    print(f"filled the facts of {count:,} leads in {time.perf_counter() - started:.0f} s")


def random_month(rng: random.Random) -> tuple[date, date]:
    first = START + timedelta(days=rng.randrange(DAYS - 31))
    return first, first + timedelta(days=29)


RAW_CONVERSION = """
SELECT l.channel, l.product, COUNT(*) AS leads,
       COUNT(s.lead_id) AS submitted, COUNT(e.lead_id) AS risk_approved, COUNT(ls.lead_id) AS lender_submitted,
       COUNT(la.lead_id) AS lender_approved, COUNT(n.lead_id) AS disbursed
FROM lead_facts l
LEFT JOIN (SELECT lead_id FROM stage_visits WHERE stage = 'pre_review' GROUP BY lead_id) s ON s.lead_id = l.lead_id
LEFT JOIN (SELECT lead_id FROM risk_evaluations WHERE decision = 'approve' GROUP BY lead_id) e ON e.lead_id = l.lead_id
LEFT JOIN (SELECT lead_id FROM lender_submissions GROUP BY lead_id) ls ON ls.lead_id = l.lead_id
LEFT JOIN (SELECT lead_id FROM lender_submissions WHERE decision = 'approved' GROUP BY lead_id) la
       ON la.lead_id = l.lead_id
LEFT JOIN (SELECT lead_id FROM loan_facts GROUP BY lead_id) n ON n.lead_id = l.lead_id
WHERE l.business_day BETWEEN :start AND :end AND l.channel = :channel AND l.product = :product
GROUP BY l.channel, l.product
"""

RAW_APPROVALS = """
SELECT l.channel, l.product, COUNT(*) AS evaluations,
       SUM(CASE WHEN e.decision = 'approve' THEN 1 ELSE 0 END) AS approved
FROM risk_evaluations e JOIN lead_facts l ON l.lead_id = e.lead_id
WHERE e.business_day BETWEEN :start AND :end AND l.channel = :channel AND l.product = :product
GROUP BY l.channel, l.product
"""

RAW_STAGE_TIMES = """
SELECT v.stage, COUNT(*), MIN(v.entered_at), MAX(v.left_at)
FROM stage_visits v JOIN lead_facts l ON l.lead_id = v.lead_id
WHERE v.left_day BETWEEN :start AND :end AND l.channel = :channel AND l.product = :product
GROUP BY v.stage
"""

RAW_OVERDUE = """
SELECT n.vintage, l.product, l.channel, COUNT(*) AS loans, SUM(n.principal) AS principal,
       SUM(CASE WHEN n.worst_days_past_due >= 31 THEN 1 ELSE 0 END) AS m1,
       SUM(CASE WHEN n.worst_days_past_due >= 31 THEN n.worst_outstanding ELSE 0 END) AS m1_principal
FROM loan_facts n JOIN lead_facts l ON l.lead_id = n.lead_id
WHERE n.business_day BETWEEN :start AND :end AND l.channel = :channel
GROUP BY n.vintage, l.product, l.channel
"""

RAW_LEADERBOARD = """
SELECT l.owner_id, COUNT(*) AS loans, SUM(n.principal) AS principal, SUM(n.commission) AS commission
FROM loan_facts n JOIN lead_facts l ON l.lead_id = n.lead_id
WHERE n.business_day BETWEEN :start AND :end AND l.team_id = :team GROUP BY l.owner_id
"""

RAW_TRENDS = """
SELECT day, SUM(evaluations), SUM(submissions), SUM(loans) FROM (
  SELECT e.business_day AS day, 1 AS evaluations, 0 AS submissions, 0 AS loans
  FROM risk_evaluations e JOIN lead_facts l ON l.lead_id = e.lead_id
  WHERE e.business_day BETWEEN :start AND :end AND l.channel = :channel AND l.product = :product
  UNION ALL
  SELECT s.business_day, 0, 1, 0 FROM lender_submissions s JOIN lead_facts l ON l.lead_id = s.lead_id
  WHERE s.business_day BETWEEN :start AND :end AND l.channel = :channel AND l.product = :product
  UNION ALL
  SELECT n.business_day, 0, 0, 1 FROM loan_facts n JOIN lead_facts l ON l.lead_id = n.lead_id
  WHERE n.business_day BETWEEN :start AND :end AND l.channel = :channel AND l.product = :product
) facts GROUP BY day
"""

# The same questions asked of the raw facts: each fact joined to its lead for the filters, then grouped.
RAW = {
    "kpis": RAW_CONVERSION,
    "approvals": RAW_APPROVALS,
    "stage-times": RAW_STAGE_TIMES,
    "overdue": RAW_OVERDUE,
    "leaderboard": RAW_LEADERBOARD,
    "trends": RAW_TRENDS,
}


def bench_queries(runtime: Runtime, rounds: int, rng: random.Random) -> None:
    tokens = TokenFactory()
    runtime.use_key_source(StaticKeys(tokens.jwks))
    app = runtime.spec.create_app(runtime)
    client = app.test_client()
    headers = tokens.header(roles=["admin"], ttl=3600)
    endpoints: dict[str, Callable[[date, date], dict[str, str]]] = {
        "kpis": lambda s, e: {"channel": rng.choice(CHANNELS), "product": rng.choice(PRODUCTS)},
        "roi": lambda s, e: {"product": rng.choice(PRODUCTS)},
        "approvals": lambda s, e: {"channel": rng.choice(CHANNELS), "product": rng.choice(PRODUCTS)},
        "funnel": lambda s, e: {"channel": rng.choice(CHANNELS), "product": rng.choice(PRODUCTS)},
        "stage-times": lambda s, e: {"channel": rng.choice(CHANNELS), "product": rng.choice(PRODUCTS)},
        "leaderboard": lambda s, e: {"team_id": rng.choice(TEAMS)},
        "overdue": lambda s, e: {"channel": rng.choice(CHANNELS)},
        "trends": lambda s, e: {"channel": rng.choice(CHANNELS), "product": rng.choice(PRODUCTS)},
        "export.xlsx": lambda s, e: {"kpi": "conversion", "channel": rng.choice(CHANNELS)},
    }
    raw = RAW
    print(f"\n{'endpoint (30-day range + filters)':<36}{'p50 ms':>9}{'p95 ms':>9}{'raw p95 ms':>12}{'raw/read':>10}")
    for endpoint, filters in endpoints.items():
        timings, raw_timings = [], []
        for _ in range(rounds):
            start, end = random_month(rng)
            query = {"from": start.isoformat(), "to": end.isoformat(), **filters(start, end)}
            began = time.perf_counter()
            response = client.get(f"/api/reporting/v1/{endpoint}", query_string=query, headers=headers)
            timings.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            if endpoint in raw:
                params = {
                    "start": start, "end": end, "channel": query.get("channel") or rng.choice(CHANNELS),
                    "product": query.get("product") or rng.choice(PRODUCTS), "team": query.get("team_id") or TEAMS[0],
                }  # fmt: skip
                began = time.perf_counter()
                with runtime.database.engine.connect() as connection:
                    connection.execute(sa.text(raw[endpoint]), params).all()
                raw_timings.append((time.perf_counter() - began) * 1000)
        p95 = percentile(timings, 95)
        raw_p95 = (
            f"{percentile(raw_timings, 95):>12.1f}{percentile(raw_timings, 95) / p95:>10.1f}" if raw_timings else ""
        )
        print(f"{endpoint:<36}{statistics.median(timings):>9.1f}{p95:>9.1f}{raw_p95}")


def events_for(count: int, rng: random.Random) -> list[Envelope]:
    """Realistic event shapes in the proportions of a case's life: lead, assignment, stage changes,
    submission, evaluation, lender submission and decision, loan."""
    events: list[Envelope] = []
    n = 0
    base = datetime(2026, 3, 2, 2, tzinfo=UTC)
    while len(events) < count:
        lead = str(uuid.uuid4())
        at = base + timedelta(minutes=n)
        sequence = {"workflow": 0}

        def emit(
            source: str,
            kind: str,
            data: dict[str, Any],
            subject: str = lead,
            seq: int | None = None,
            counter: dict[str, int] = sequence,
            when: datetime = at,
        ) -> None:
            if seq is None:
                counter["workflow"] += 1
                seq = counter["workflow"]
            events.append(
                Envelope.new(
                    source=source, event_type=kind, subject=subject, sequence=seq, data=data,
                    correlation_id="bench", causation_id=None, actor=None, occurred_at=when,
                )
            )  # fmt: skip

        emit("intake", "intake.lead.created", {
            "lead_id": lead, "customer_id": lead, "product": rng.choice(PRODUCTS), "amount": 300000, "term_months": 24,
            "purpose": None, "channel": rng.choice(CHANNELS), "partner_id": None, "city": rng.choice(CITIES),
            "submitted_by": STAFF[n % 200], "duplicate_outcome": "new_customer", "features": {},
            "created_at": at.isoformat().replace("+00:00", "Z")}, seq=1)  # fmt: skip
        emit("workflow", "workflow.case.assigned", {"case_id": lead, "customer_id": lead, "assignee_id": STAFF[n % 200],
             "previous_assignee_id": None, "team_id": TEAMS[(n % 200) // 10], "rule_id": "staff_entered",
             "reason": "staff_entered", "conflict_with": None})  # fmt: skip
        for before, after in zip(("new", *PATH[:3]), PATH[:4], strict=True):
            emit("workflow", "workflow.stage.changed", {"case_id": lead, "customer_id": lead, "from_stage": before,
                 "to_stage": after, "actor": "system", "reason": None})  # fmt: skip
        emit("intake", "intake.application.submitted", {"lead_id": lead}, seq=2)
        emit("risk", "risk.evaluation.completed", {"evaluation_id": str(uuid.uuid4()), "lead_id": lead,
             "customer_id": lead, "product": "house", "decision": "approve"}, seq=1)  # fmt: skip
        submission = str(uuid.uuid4())
        for kind, decision in (("workflow.lender.submitted", None), ("workflow.lender.decided", "approved")):
            emit("workflow", kind, {"case_id": lead, "customer_id": lead, "submission_id": submission,
                 "lender": "齐鲁银行", "lender_product": "快贷", "amount": 300000, "decision": decision,
                 "approved_amount": 300000 if decision else None, "reason": None})  # fmt: skip
        emit("workflow", "workflow.loan.disbursed", {"case_id": lead, "customer_id": lead, "loan_id": lead,
             "lender": "齐鲁银行", "principal": 300000, "commission": 6000}, subject=lead, seq=1)  # fmt: skip
        n += 1
    return events[:count]


class StatementCounter:
    """Counts the statements an engine sends: a multi-row INSERT (executemany, which the MySQL driver sends as one
    statement) once, an executemany of anything else once per parameter set. On MySQL also the round trips the
    driver really made (every query, COMMIT and ROLLBACK included)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        self.round_trips = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)
        if engine.dialect.driver == "pymysql":
            import pymysql.connections

            send = pymysql.connections.Connection._execute_command

            def counted(connection: Any, command: int, sql: Any) -> Any:
                self.round_trips += 1
                return send(connection, command, sql)

            pymysql.connections.Connection._execute_command = counted  # type: ignore[method-assign]

    def _count(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        many = executemany and not statement.lstrip().upper().startswith("INSERT")
        self.count += len(parameters) if many else 1


def bench_ingest(runtime: Runtime, count: int, rng: random.Random, batches: list[int], profile: bool) -> None:
    counter = StatementCounter(runtime.database.engine)
    for batch in batches:
        label = "batches of 100 (the consumer's)" if batch == 100 else f"batches of {batch}"
        label = "one event a transaction" if batch == 1 else label
        events = events_for(count, rng)
        profiler = cProfile.Profile() if profile and batch == batches[0] else None
        counted, trips = counter.count, counter.round_trips
        began, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for start in range(0, len(events), batch):
            apply_events(runtime, events[start : start + batch])
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        statements = (counter.count - counted) / len(events)
        round_trips = f", {(counter.round_trips - trips) / len(events):.2f} round trips" if counter.round_trips else ""
        print(
            f"ingest, {label:<34}{len(events) / elapsed:>10,.0f} events/s  ({len(events):,} events, "
            f"{statements:.2f} statements{round_trips}, {cpu / len(events) * 1000:.2f} ms of this process's CPU per "
            "event)"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--leads", type=int, help="leads whose facts fill the read models (1000000; none with --ingest-only)"
    )
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--mariadb", action="store_true", help="use the local MariaDB instead of SQLite")
    parser.add_argument(
        "--own-mariadb", metavar="BUFFER_POOL", help="start a MariaDB of its own with this innodb_buffer_pool_size (8G)"
    )
    parser.add_argument("--ingest-only", action="store_true", help="measure the ingest alone (no KPI queries)")
    parser.add_argument(
        "--ingest-batches", default="100,1", help="events per transaction of each ingest run, comma-separated"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the first ingest run")
    args = parser.parse_args()
    if args.leads is None:
        args.leads = 0 if args.ingest_only else 1_000_000
    rng = random.Random(8)
    # Stopped with SIGTERM, the bench still drops its database (``finally`` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="lbbench-reporting-"))
    environ = environment_for_tests(folder)
    with contextlib.ExitStack() as servers:
        servers.callback(shutil.rmtree, folder, ignore_errors=True)  # last, after an own MariaDB has stopped
        if args.own_mariadb:
            server = servers.enter_context(
                OwnMariaDB(folder / "mariadb", options={"innodb-buffer-pool-size": args.own_mariadb})
            )
            environ["LOANBRIDGE_DATABASE_URL"] = server.url
            print(f"own MariaDB on port {server.port}, innodb_buffer_pool_size={args.own_mariadb}")
        elif args.mariadb:
            environ["LOANBRIDGE_DATABASE_URL"] = (
                f"mysql+pymysql://root@127.0.0.1:3306/lbbench_{secrets.token_hex(3)}_{{service}}"
            )
        run(environ, args, rng)


def run(environ: dict[str, str], args: argparse.Namespace, rng: random.Random) -> None:
    spec = get("reporting")
    runtime = Runtime(spec, environ=environ)
    url = runtime.settings.database_url
    migrate_database(url, spec.migrations)
    print(f"database: {runtime.database.engine.dialect.name}")
    try:
        if args.leads:
            fill(runtime.database.engine, args.leads, rng)
        if not args.ingest_only:
            bench_queries(runtime, args.queries, rng)
        batches = [int(size) for size in args.ingest_batches.split(",")]
        bench_ingest(runtime, args.events, rng, batches, args.profile)
    finally:
        runtime.database.dispose()
        if args.mariadb or args.own_mariadb:
            drop_database(url)


if __name__ == "__main__":
    main()
