"""No customer mobile, name or ID number in notify's tables, logs or events, even after SMS, staff messages that
mention the customer, and a 退订 reply."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loanbridge.common.testing import harness
from loanbridge.notify.domain import signing

MOBILE = "13812345678"
NAME = "王小明"
ID_NUMBER = "370102199003077736"


def test_no_customer_mobile_name_or_id_number_appears_in_notifys_tables_logs_or_events(
    notify: Any, client: Any, deliver: Any, staff_member: Any, contacts: Any, clock: Any, aliyun: Any,
    dispatch_now: Any, tmp_path: Path, capsys: Any,
) -> None:  # fmt: skip
    customer_id = str(uuid.uuid4())
    # Even if an answer carried more than it should, notify keeps none of it.
    contacts.customers[customer_id] = {"customer_id": customer_id, "mobile": MOBILE, "opt_out": False,
                                       "name": NAME, "id_number": ID_NUMBER}  # fmt: skip
    owner = staff_member("张三", "sales")
    case_id, loan_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver("workflow.case.assigned", {"case_id": case_id, "customer_id": customer_id, "assignee_id": owner,
                                       "previous_assignee_id": None, "team_id": None, "rule_id": "staff_entered",
                                       "reason": "staff_entered", "conflict_with": None})  # fmt: skip
    deliver("workflow.loan.disbursed", {"case_id": case_id, "customer_id": customer_id, "loan_id": loan_id,
                                        "lender": "齐鲁银行", "lender_product": "房抵经营贷", "principal": 8000,
                                        "annual_rate": 0.1, "term_months": 1, "commission": 100,
                                        "method": "explicit", "disbursed_at": "2026-03-02T02:00:00Z",
                                        "schedule": [{"installment": 1, "due_date": "2026-03-20", "principal": 8000,
                                                      "interest": 60, "amount": 8060}]})  # fmt: skip
    deliver("workflow.loan.overdue", {"loan_id": loan_id, "case_id": case_id, "customer_id": customer_id,
                                      "installment": 1, "due_date": "2026-03-20", "days_past_due": 3,
                                      "amount_due": 8060, "outstanding_principal": 8000})  # fmt: skip
    dispatch_now()
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    dispatch_now()
    body = json.dumps([{"phone_number": MOBILE, "content": "退订"}]).encode()
    stamp = int(clock.now().timestamp())
    replied = client.post(
        "/api/notify/v1/sms/replies",
        data=body,
        headers={signing.TIMESTAMP_HEADER: str(stamp),
                 signing.SIGNATURE_HEADER: signing.sign("sms-callback-secret-0123456789", stamp, body)},
    )  # fmt: skip
    clock.advance(timedelta(days=1))
    dispatch_now()

    with notify.runtime.database.session() as session:
        tables = [row[0] for row in session.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        dumped = "\n".join(
            json.dumps([list(map(str, row)) for row in session.execute(sa.text(f'SELECT * FROM "{table}"'))],
                       ensure_ascii=False)
            for table in tables
        )  # fmt: skip
    files = b"".join(path.read_bytes() for path in tmp_path.glob("notify.db*"))
    events = "\n".join(event.to_json() for event in harness.drain_outbox(notify.runtime))
    logs = capsys.readouterr()

    assert replied.get_json().get("opted_out") == 1, replied.get_json()
    assert len(aliyun[1].requests) == 1 and aliyun[1].requests[0]["PhoneNumbers"] == MOBILE
    assert "138****5678" in dumped  # the masked form is what staff and the delivery log see
    for secret in (MOBILE, NAME, ID_NUMBER):
        assert secret not in dumped
        assert secret.encode() not in files
        assert secret not in events
        assert secret not in logs.out + logs.err
