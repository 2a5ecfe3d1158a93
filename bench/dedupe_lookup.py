"""Dedupe lookup by ID number or mobile over a large customer master, on MariaDB.

    .venv/bin/python bench/dedupe_lookup.py [--customers 1000000] [--lookups 20000]

It makes its own database (dropped at the end), fills intake's customers table with synthetic people (blind
indexes computed as intake computes them; the sealed fields are placeholders, the lookup never reads them),
then times intake's own lookup (``orm.customer_by_indexes``: one indexed query by ID number or mobile) for
people who exist and people who do not, and prints p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from datetime import datetime

from loanbridge.common.db import Database, drop_database, migrate_database
from loanbridge.common.pii.crypto import BlindIndex
from loanbridge.common.service import get
from loanbridge.intake import orm

BATCH = 10_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def person(n: int) -> tuple[str, str]:
    """A distinct (id_number, mobile) per n (not checksum-valid: the index only needs distinct values)."""
    return f"370102{19600101 + n % 400000:08d}{n % 1000:03d}X{n}", f"139{n:08d}"


def fill(database: Database, index: BlindIndex, count: int) -> None:
    now = datetime(2026, 11, 1)
    started = time.perf_counter()
    with database.engine.begin() as connection:
        for start in range(0, count, BATCH):
            rows = []
            for n in range(start, min(start + BATCH, count)):
                id_number, mobile = person(n)
                rows.append({
                    "id": f"{n:08d}-0000-4000-8000-000000000000", "name_enc": "s1.x", "masked_name": "张*",
                    "mobile_enc": "s1.x", "mobile_bidx": index.of("mobile", mobile), "id_number_enc": "s1.x",
                    "id_number_bidx": index.of("id_number", id_number), "city": "济南", "channel": "douyin",
                    "created_at": now, "updated_at": now,
                })  # fmt: skip
            connection.execute(orm.customers.insert(), rows)
            if start % 100_000 == 0:
                print(f"  {start:>9,} customers written ({time.perf_counter() - started:.0f} s)")
    print(f"filled {count:,} customers in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()

    url = f"mysql+pymysql://root@127.0.0.1:3306/lbbench_{secrets.token_hex(3)}_intake"
    index = BlindIndex(secrets.token_bytes(32))
    migrate_database(url, get("intake").migrations)
    database = Database(url)
    try:
        fill(database, index, args.customers)
        rng = random.Random(7)
        timings: dict[str, list[float]] = {"id_number (found)": [], "mobile (found)": [], "unknown person": []}
        with database.session() as session:
            for _ in range(args.lookups):
                n = rng.randrange(args.customers)
                id_number, mobile = person(n)
                kind = rng.choice(list(timings))
                if kind == "unknown person":
                    id_number, mobile = person(args.customers + n)
                started = time.perf_counter()
                found = orm.customer_by_indexes(
                    session,
                    id_number_bidx=index.of("id_number", id_number) if kind != "mobile (found)" else None,
                    mobile_bidx=index.of("mobile", mobile),
                )
                timings[kind].append((time.perf_counter() - started) * 1000)
                assert (found is None) == (kind == "unknown person")
        everything = [value for values in timings.values() for value in values]
        print(f"dedupe lookup over {args.customers:,} customers, {args.lookups:,} lookups (blind index, MariaDB):")
        for kind, values in [*timings.items(), ("all", everything)]:
            print(
                f"  {kind:<18} p50 {statistics.median(values):.2f} ms  p99 {percentile(values, 99):.2f} ms  "
                f"max {max(values):.2f} ms"
            )
    finally:
        database.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
