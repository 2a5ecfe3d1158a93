"""Outbox relay throughput: events/s published with broker confirms from a backlog, on MariaDB and RabbitMQ.

    .venv/bin/python bench/outbox_relay.py [--events 10000] [--batch 500]

It makes its own database and RabbitMQ virtual host (dropped at the end), fills intake's outbox with a backlog of
``lead.created``-sized events, then times one relay draining it to the exchange (bound to a queue, so every
message is routed and stored, as in production).
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import time

from loanbridge.common import service as services
from loanbridge.common.cli import declare_topology
from loanbridge.common.db import drop_database, migrate_database
from loanbridge.common.events.relay import OutboxRelay
from loanbridge.common.pii.crypto import new_key_text
from loanbridge.common.runtime import Runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    run = secrets.token_hex(3)
    vhost = f"lbbench_{run}"
    environ = {
        "LOANBRIDGE_DATABASE_URL": f"mysql+pymysql://root@127.0.0.1:3306/lbbench_{run}_{{service}}",
        "LOANBRIDGE_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "LOANBRIDGE_RELAY_BATCH_SIZE": str(args.batch),
        "LOANBRIDGE_PII_KEK": new_key_text(),
        "LOANBRIDGE_BLIND_INDEX_KEY": new_key_text(),
    }
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    runtime = Runtime(services.get("intake"), environ=environ)
    try:
        migrate_database(runtime.settings.database_url, runtime.spec.migrations)
        declare_topology(runtime.settings, services.discover())
        fill_outbox(runtime, args.events)
        relay = OutboxRelay(runtime, stop=None)  # type: ignore[arg-type]
        started = time.perf_counter()
        published = 0
        while published < args.events:
            published += relay.relay_batch()
        elapsed = time.perf_counter() - started
        relay._disconnect()
        print(
            f"outbox relay: {published} events in {elapsed:.2f} s = {published / elapsed:,.0f} events/s "
            f"(batches of {args.batch}, publisher confirms, MariaDB + RabbitMQ quorum queue)"
        )
    finally:
        runtime.database.dispose()
        drop_database(runtime.settings.database_url)
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)


def fill_outbox(runtime: Runtime, count: int) -> None:
    """A backlog of events with a realistic payload, written 500 per transaction."""
    data = {
        "lead_id": "", "customer_id": "c", "product": "house", "amount": 300000, "term_months": 36,
        "purpose": "经营周转", "channel": "douyin", "partner_id": None, "city": "济南", "submitted_by": "u",
        "duplicate_outcome": "new_customer", "features": {}, "created_at": "2026-11-28T10:00:00Z",
    }  # fmt: skip
    for start in range(0, count, 500):
        with runtime.unit_of_work() as uow:
            for n in range(start, min(start + 500, count)):
                uow.emit("intake.lead.created", subject=f"bench-{n}", data={**data, "lead_id": f"bench-{n}"})
            uow.commit()


if __name__ == "__main__":
    main()
