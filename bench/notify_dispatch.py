"""Dispatch of scheduled messages: 10,000 due repayment reminders sent to a local fake SMS provider.

    .venv/bin/python bench/notify_dispatch.py [--messages 10000] [--workers 4] [--database-url URL]

It runs notify on its own database (a SQLite file in a temporary directory unless a URL is given, e.g. a MariaDB
database made for the run), schedules one reminder per loan through the real consumer
(``workflow.loan.disbursed`` events applied in batches), moves the clock to the reminders' morning, and lets
``--workers`` threads run notify's dispatcher (``dispatch_due``: claim with FOR UPDATE SKIP LOCKED, gate, send,
record) against a fake Aliyun endpoint on 127.0.0.1 that checks each request's signature. It prints the time
taken, the rate, and how many numbers were sent to twice (must be 0).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.db import migrate_engine
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import apply_events
from loanbridge.common.pii.crypto import new_key_text
from loanbridge.common.runtime import Runtime
from loanbridge.common.service import get
from loanbridge.notify import orm
from loanbridge.notify.handlers import dispatch

KEY_ID, SECRET = "LTAI-bench", "bench-secret"


class FakeAliyun(BaseHTTPRequestHandler):
    sent: Counter[str] = Counter()
    bad_signatures = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query, keep_blank_values=True))
        signature = params.pop("Signature", "")

        def encode(text: str) -> str:
            return urllib.parse.quote_plus(text).replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

        canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))
        to_sign = "GET&%2F&" + encode(canonical)
        expected = base64.b64encode(hmac.new(f"{SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        with FakeAliyun.lock:
            if signature == expected:
                FakeAliyun.sent[params["PhoneNumbers"]] += 1
            else:
                FakeAliyun.bad_signatures += 1
        body = json.dumps({"Code": "OK" if signature == expected else "SignatureDoesNotMatch"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Contacts:
    def __init__(self, mobiles: dict[str, str]) -> None:
        self.mobiles = mobiles

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return {"customer_id": customer_id, "mobile": self.mobiles[customer_id], "opt_out": False}

    def staff(self, user_id: str) -> dict[str, Any] | None:
        return None


def disbursement(customer_id: str) -> Envelope:
    loan_id = str(uuid.uuid4())
    data = {
        "case_id": str(uuid.uuid4()), "customer_id": customer_id, "loan_id": loan_id, "lender": "齐鲁银行",
        "lender_product": "房抵经营贷", "principal": 8000, "annual_rate": 0.1, "term_months": 1, "commission": 100,
        "method": "explicit", "disbursed_at": "2026-03-02T02:00:00Z",
        "schedule": [{"installment": 1, "due_date": "2026-03-20", "principal": 8000, "interest": 60, "amount": 8060}],
    }  # fmt: skip
    return Envelope.new(source="workflow", event_type="workflow.loan.disbursed", subject=loan_id, sequence=1,
                        data=data, correlation_id=str(uuid.uuid4()), causation_id=None, actor="bench")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAliyun)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scratch = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    environ = {
        "LOANBRIDGE_NOTIFY_DATABASE_URL": args.database_url or f"sqlite:///{scratch}/notify.db",
        "LOANBRIDGE_BLIND_INDEX_KEY": new_key_text(),
        "LOANBRIDGE_NOTIFY_ALIYUN_SMS_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}",
        "LOANBRIDGE_NOTIFY_ALIYUN_ACCESS_KEY_ID": KEY_ID,
        "LOANBRIDGE_NOTIFY_ALIYUN_ACCESS_KEY_SECRET": SECRET,
        "LOANBRIDGE_NOTIFY_ALIYUN_SMS_SIGN_NAME": "鲁信助贷",
        "LOANBRIDGE_NOTIFY_DISPATCH_BATCH": "200",
    }
    runtime = Runtime(get("notify"), environ=environ)
    migrate_engine(runtime.database.engine, runtime.spec.migrations)
    mobiles = {str(uuid.uuid4()): f"138{n:08d}" for n in range(args.messages)}
    runtime.config.contacts = Contacts(mobiles)

    with clock.use_clock(clock.FixedClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))) as fixed:
        started = time.perf_counter()
        events = [disbursement(customer_id) for customer_id in mobiles]
        for start in range(0, len(events), 500):
            apply_events(runtime, events[start : start + 500])
        scheduled = time.perf_counter() - started
        with runtime.database.session() as session:
            due = session.execute(sa.select(sa.func.count()).select_from(orm.messages)).scalar_one()
        fixed.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai, the reminders' morning

        started = time.perf_counter()
        if args.workers == 1:
            dispatch.dispatch_all_due(runtime)
        else:
            workers = [threading.Thread(target=dispatch.dispatch_all_due, args=(runtime,)) for _ in range(args.workers)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        took = time.perf_counter() - started

    with runtime.database.session() as session:
        statuses = dict(
            session.execute(sa.select(orm.messages.c.status, sa.func.count()).group_by(orm.messages.c.status)).all()
        )
    twice = sum(1 for count in FakeAliyun.sent.values() if count > 1)
    print(f"database: {runtime.database.engine.dialect.name}, workers: {args.workers}")
    print(f"scheduled {due} reminders from {len(events)} disbursements in {scheduled:.1f} s")
    print(
        f"dispatched {sum(FakeAliyun.sent.values())} SMS in {took:.1f} s ({sum(FakeAliyun.sent.values()) / took:.0f}/s)"
    )
    print(f"statuses: {statuses}")
    print(f"numbers sent to twice: {twice}; bad signatures: {FakeAliyun.bad_signatures}")
    server.shutdown()
    runtime.database.dispose()
    if twice or statuses.get("sent") != due:
        raise SystemExit("FAILED: a message was sent twice or not at all")


if __name__ == "__main__":
    main()
