"""Timer firing: 10,000 open tasks past due fire ``workflow.task.overdue``, each exactly once, with two workers.

    .venv/bin/python bench/workflow_timers.py [--timers 10000] [--workers 2] [--database-url URL]

It migrates a fresh workflow database (SQLite in a temporary directory, or the MariaDB/MySQL database at
``--database-url``, which it empties first), writes the due tasks in bulk, then runs ``--workers`` workers side by
side (each its own runtime and connection pool, as two worker processes would), each calling the timer pass
until nothing is due. It prints the time to fire them all and checks that every task has one overdue event.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loanbridge.common import clock, service  # noqa: E402
from loanbridge.common.db import drop_database, migrate_database  # noqa: E402
from loanbridge.common.runtime import Runtime  # noqa: E402
from loanbridge.common.tables import outbox  # noqa: E402
from loanbridge.common.testing import harness  # noqa: E402
from loanbridge.workflow import orm  # noqa: E402
from loanbridge.workflow.handlers.tasks import run_timers  # noqa: E402

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def seed(runtime: Runtime, count: int) -> None:
    """``count`` open first-contact tasks, due an hour ago, on as many cases."""
    due = (NOW - timedelta(hours=1)).replace(tzinfo=None)
    rows = [
        {"id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()),
         "kind": "first_contact", "title": "首次联系客户", "assignee_id": f"sales-{n % 50}", "assignee_role": None,
         "status": "open", "due_at": due, "remind_at": None, "escalate_to": "manager", "overdue_at": None,
         "escalated_to": None, "details": "{}", "created_at": due, "completed_at": None}
        for n in range(count)
    ]  # fmt: skip
    with runtime.database.session() as session, session.begin():
        for start in range(0, count, 1000):
            session.execute(orm.tasks.insert(), rows[start : start + 1000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    spec = service.get("workflow")
    with tempfile.TemporaryDirectory() as tmp:
        env = harness.environment_for_tests(Path(tmp))
        if args.database_url:
            env["LOANBRIDGE_DATABASE_URL"] = args.database_url
            drop_database(args.database_url)
        clock.install(clock.FixedClock(NOW))
        setup = Runtime(spec, environ=env)
        migrate_database(setup.settings.database_url, spec.migrations)
        seed(setup, args.timers)
        workers = [Runtime(spec, environ=env) for _ in range(args.workers)]
        fired = [0] * len(workers)

        def work(index: int) -> None:
            while (done := run_timers(workers[index])) > 0:
                fired[index] += done

        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(index,)) for index in range(len(workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        with setup.database.session() as session:
            events = session.execute(
                sa.select(sa.func.count(), sa.func.count(sa.distinct(outbox.c.subject))).where(
                    outbox.c.event_type == "workflow.task.overdue"
                )
            ).one()
        print(f"database          {setup.database.dialect}")
        print(f"timers            {args.timers}")
        print(f"workers           {args.workers} (fired {', '.join(map(str, fired))})")
        print(f"time to fire all  {elapsed:.2f} s  ({args.timers / elapsed:.0f} timers/s)")
        print(f"overdue events    {events[0]} for {events[1]} distinct tasks")
        ok = events[0] == events[1] == args.timers
        print("each fired once   " + ("yes" if ok else "NO"))
        for runtime in [setup, *workers]:
            runtime.database.dispose()
        if args.database_url:
            drop_database(args.database_url)
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
