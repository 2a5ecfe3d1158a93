"""Messages due later: repayment reminders from a loan's schedule, cancelled when paid or settled, sent on time
by the worker (also after a restart), never in quiet hours, never over a customer's daily cap, and no marketing
SMS to a customer who replied 退订."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from loanbridge.common import clock as clocks
from loanbridge.common.runtime import Runtime
from loanbridge.notify.domain import signing
from loanbridge.notify.handlers import dispatch

API = "/api/notify/v1"


def schedule(first: date, count: int = 12) -> list[dict[str, Any]]:
    lines = []
    for n in range(1, count + 1):
        month = first.month - 1 + (n - 1)
        due = date(first.year + month // 12, month % 12 + 1, first.day)
        lines.append(
            {"installment": n, "due_date": due.isoformat(), "principal": 8000, "interest": 900, "amount": 8900}
        )
    return lines


def disbursed(customer_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "case_id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "loan_id": str(uuid.uuid4()),
        "lender": "齐鲁银行",
        "lender_product": "房抵经营贷",
        "principal": 96000,
        "annual_rate": 0.108,
        "term_months": len(lines),
        "commission": 1920,
        "method": "equal_principal",
        "disbursed_at": "2026-03-02T02:00:00Z",
        "schedule": lines,
    }


def local(instant: datetime) -> datetime:
    return clocks.to_business(instant)


def test_a_loan_with_twelve_installments_gets_twelve_reminders_each_three_days_before_at_ten(
    deliver: Any, customer: Any, messages: Any
) -> None:
    event = deliver("workflow.loan.disbursed", disbursed(customer(), schedule(date(2026, 4, 15))))

    reminders = messages(event_id=event.id)

    assert len(reminders) == 12
    due = [local(clocks.as_utc(m.due_at)) for m in reminders]
    expected = [date.fromisoformat(line["due_date"]) - timedelta(days=3) for line in event.data["schedule"]]
    assert [d.date() for d in due] == expected
    assert {(d.hour, d.minute) for d in due} == {(10, 0)}
    assert {(m.channel, m.template, m.recipient_kind) for m in reminders} == {("sms", "repayment_due", "customer")}


def test_paying_installment_three_early_cancels_only_reminder_three(deliver: Any, customer: Any, messages: Any) -> None:
    data = disbursed(customer(), schedule(date(2026, 4, 15)))
    event = deliver("workflow.loan.disbursed", data)

    deliver(
        "workflow.repayment.recorded",
        {
            "loan_id": data["loan_id"],
            "case_id": data["case_id"],
            "customer_id": data["customer_id"],
            "installment": 3,
            "reference": "FIN-0003",
            "paid_at": "2026-03-05T03:00:00Z",
            "amount": 8900,
        },
    )

    by_installment = {
        json.loads(m.context)["installment"]["installment"]: m.status for m in messages(event_id=event.id)
    }
    assert by_installment[3] == "cancelled"
    assert [n for n, status in by_installment.items() if status != "pending"] == [3]


def test_a_settled_loan_cancels_every_remaining_reminder_and_schedules_a_reloan_follow_up(
    deliver: Any, customer: Any, staff_member: Any, messages: Any
) -> None:
    owner = staff_member("张三", "sales")
    data = disbursed(customer(), schedule(date(2026, 4, 15)))
    deliver(
        "workflow.case.assigned",
        {
            "case_id": data["case_id"],
            "customer_id": data["customer_id"],
            "assignee_id": owner,
            "previous_assignee_id": None,
            "team_id": None,
            "rule_id": "staff_entered",
            "reason": "staff_entered",
            "conflict_with": None,
        },
    )
    event = deliver("workflow.loan.disbursed", data)

    settled = deliver(
        "workflow.loan.settled",
        {"loan_id": data["loan_id"], "case_id": data["case_id"], "customer_id": data["customer_id"],
         "settled_at": "2026-03-10T02:00:00Z"},
    )  # fmt: skip

    assert {m.status for m in messages(event_id=event.id)} == {"cancelled"}
    follow_ups = {(m.template, m.recipient_id, m.channel): m for m in messages(event_id=settled.id)}
    assert set(follow_ups) == {
        ("reloan_followup", owner, "inbox"),
        ("reloan_offer", data["customer_id"], "sms"),
    }
    due = local(clocks.as_utc(follow_ups[("reloan_followup", owner, "inbox")].due_at))
    assert (due.date(), due.hour) == (date(2026, 4, 1), 10)


def test_a_reminder_goes_out_on_its_day_and_not_before(
    notify: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, messages: Any, dispatch_now: Any
) -> None:
    customer_id = customer("13812345678")
    event = deliver("workflow.loan.disbursed", disbursed(customer_id, schedule(date(2026, 3, 20), count=2)))

    clock.set(datetime(2026, 3, 17, 1, 59, tzinfo=UTC))  # 09:59 in Shanghai, the day of the first reminder
    early = dispatch_now()
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    on_time = dispatch_now()

    assert (early, on_time) == (0, 1)
    (sms,) = aliyun[1].requests
    assert sms["PhoneNumbers"] == "13812345678"
    assert sms["TemplateCode"] == "SMS_REPAYMENT_DUE"
    assert json.loads(sms["TemplateParam"]) == {"installment": "1", "amount": "8900", "due_date": "2026-03-20"}
    assert [m.status for m in messages(event_id=event.id)] == ["sent", "pending"]


def test_a_reminder_due_at_ten_at_night_goes_out_at_eight_the_next_morning(
    notify: Any, client: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, as_user: Any, dispatch_now: Any
) -> None:
    client.put(
        f"{API}/policies/repayment_due",
        json={"timing": {"kind": "before_installments", "days": 3, "at": "22:00"}},
        headers=as_user("admin-1", "admin"),
    )
    event = deliver("workflow.loan.disbursed", disbursed(customer(), schedule(date(2026, 3, 20), count=1)))

    clock.set(datetime(2026, 3, 17, 14, 0, tzinfo=UTC))  # 22:00 in Shanghai
    dispatch_now()
    at_night = len(aliyun[1].requests)
    deferred = client.get(f"{API}/messages?subject_id={event.subject}", headers=as_user("ops-1", "ops")).get_json()
    clock.set(datetime(2026, 3, 17, 23, 59, tzinfo=UTC))  # 07:59
    dispatch_now()
    before_eight = len(aliyun[1].requests)
    clock.set(datetime(2026, 3, 18, 0, 0, tzinfo=UTC))  # 08:00
    dispatch_now()

    assert (at_night, before_eight, len(aliyun[1].requests)) == (0, 0, 1)
    assert deferred["items"][0]["due_at"] == "2026-03-18T00:00:00+00:00"


def test_scheduled_messages_survive_a_restart_and_are_sent_by_the_new_worker(
    notify: Any, environment: Any, deliver: Any, customer: Any, contacts: Any, clock: Any, aliyun: Any
) -> None:
    deliver("workflow.loan.disbursed", disbursed(customer(), schedule(date(2026, 3, 20), count=1)))
    notify.runtime.database.dispose()

    restarted = Runtime(notify.runtime.spec, environ=environment)
    restarted.config.contacts = contacts
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    sent = dispatch.dispatch_all_due(restarted)
    restarted.database.dispose()

    assert (sent, len(aliyun[1].requests)) == (1, 1)


def test_a_message_claimed_by_a_worker_that_died_is_sent_once_its_lease_ends(
    notify: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, messages: Any
) -> None:
    event = deliver("workflow.loan.disbursed", disbursed(customer(), schedule(date(2026, 3, 20), count=1)))
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    claimed = notify.runtime.transaction(dispatch._claim, limit=10, lease=300)  # the worker dies here

    again_at_once = dispatch.dispatch_all_due(notify.runtime)
    clock.advance(timedelta(seconds=301))
    after_lease = dispatch.dispatch_all_due(notify.runtime)

    assert (len(claimed), again_at_once, after_lease) == (1, 0, 1)
    assert [m.status for m in messages(event_id=event.id)] == ["sent"]
    assert len(aliyun[1].requests) == 1


def test_two_workers_dispatching_at_once_send_each_message_once(
    notify: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any
) -> None:
    for _ in range(10):
        deliver("workflow.loan.disbursed", disbursed(customer(), schedule(date(2026, 3, 20), count=1)))
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    notify.runtime.config.dispatch_batch = 2

    workers = [threading.Thread(target=dispatch.dispatch_all_due, args=(notify.runtime,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    phones = [request["PhoneNumbers"] for request in aliyun[1].requests]
    assert len(phones) == 10


def test_a_customer_gets_no_more_sms_a_day_than_the_cap_and_the_rest_next_morning(
    notify: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, dispatch_now: Any
) -> None:
    notify.runtime.config.customer_daily_cap = 2
    customer_id = customer("13812345678")
    for _ in range(3):
        deliver("workflow.loan.disbursed", disbursed(customer_id, schedule(date(2026, 3, 20), count=1)))

    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    dispatch_now()
    same_day = len(aliyun[1].requests)
    clock.set(datetime(2026, 3, 18, 0, 0, tzinfo=UTC))  # 08:00 the next day
    dispatch_now()

    assert (same_day, len(aliyun[1].requests)) == (2, 3)


def signed_reply(client: Any, replies: list[dict[str, Any]], *, secret: str = "sms-callback-secret-0123456789") -> Any:
    body = json.dumps(replies, ensure_ascii=False).encode()
    timestamp = int(clocks.now().timestamp())
    headers = {
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
        "Content-Type": "application/json",
    }
    return client.post(f"{API}/sms/replies", data=body, headers=headers)


def settle(deliver: Any, customer_id: str) -> Any:
    return deliver(
        "workflow.loan.settled",
        {"loan_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": customer_id,
         "settled_at": "2026-03-02T02:00:00Z"},
    )  # fmt: skip


def test_a_tuiding_reply_stops_marketing_sms_to_that_customer_and_not_to_others(
    notify: Any, client: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, messages: Any, dispatch_now: Any
) -> None:
    quitter, other = customer("13812345678"), customer("13987654321")
    deliver("workflow.loan.disbursed", disbursed(quitter, schedule(date(2026, 3, 20), count=1)))
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    dispatch_now()  # the repayment reminder reaches the quitter, who replies 退订

    answer = signed_reply(
        client, [{"phone_number": "13812345678", "content": "退订", "send_time": "2026-03-17 10:05:00"}]
    )
    offers = [settle(deliver, quitter), settle(deliver, other)]
    clock.advance(timedelta(days=31))
    dispatch_now()

    assert answer.get_json() == {"received": 1, "opted_out": 1, "unmatched": 0}
    sent_to = [request["PhoneNumbers"] for request in aliyun[1].requests]
    assert sent_to == ["13812345678", "13987654321"]
    quitter_offer = messages(event_id=offers[0].id, channel="sms")
    assert [(m.status, m.error) for m in quitter_offer] == [("suppressed", "opted_out")]


def test_an_opted_out_customer_still_gets_repayment_reminders(
    notify: Any, client: Any, deliver: Any, customer: Any, clock: Any, aliyun: Any, dispatch_now: Any
) -> None:
    customer_id = customer("13812345678")
    deliver("workflow.loan.disbursed", disbursed(customer_id, schedule(date(2026, 3, 20), count=2)))
    clock.set(datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    dispatch_now()
    signed_reply(client, [{"phone_number": "13812345678", "content": "TD"}])

    clock.set(datetime(2026, 4, 17, 2, 0, tzinfo=UTC))
    dispatch_now()

    assert len(aliyun[1].requests) == 2


def test_an_sms_reply_with_a_wrong_signature_is_refused_and_records_nothing(
    notify: Any, client: Any, messages: Any
) -> None:
    response = signed_reply(client, [{"phone_number": "13812345678", "content": "退订"}], secret="not-the-secret-xxxx")

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_signature"


def test_intakes_opt_out_also_stops_marketing_sms(
    deliver: Any, customer: Any, clock: Any, aliyun: Any, messages: Any, dispatch_now: Any
) -> None:
    event = settle(deliver, customer("13812345678", opt_out=True))

    clock.advance(timedelta(days=31))
    dispatch_now()

    assert aliyun[1].requests == []
    assert [m.status for m in messages(event_id=event.id, channel="sms")] == ["suppressed"]


def test_a_task_overdue_goes_to_the_assignee_now_and_to_the_manager_an_hour_later_unless_done(
    deliver: Any, staff_member: Any, clock: Any, messages: Any, dispatch_now: Any, dingtalk: Any
) -> None:
    assignee = staff_member("张三", "sales", mobile="13900001111")
    manager = staff_member("刘经理", "manager", mobile="13900002222")

    def overdue() -> Any:
        return deliver(
            "workflow.task.overdue",
            {"task_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()),
             "assignee_id": assignee, "assignee_role": None, "kind": "first_contact", "title": "首次联系客户",
             "due_at": "2026-03-02T01:00:00Z", "escalate_to": {"user_id": manager, "role": "manager"}},
        )  # fmt: skip

    done, forgotten = overdue(), overdue()
    dispatch_now()
    deliver(
        "workflow.task.completed",
        {**{k: done.data[k] for k in ("task_id", "case_id", "customer_id", "assignee_id", "assignee_role", "kind",
                                      "title", "due_at", "escalate_to")}},
    )  # fmt: skip
    clock.advance(timedelta(minutes=61))
    dispatch_now()

    def inbox_of(event: Any) -> dict[str, str]:
        return {m.recipient_id: m.status for m in messages(event_id=event.id, channel="inbox")}

    assert inbox_of(done) == {assignee: "sent", manager: "cancelled"}
    assert inbox_of(forgotten) == {assignee: "sent", manager: "sent"}
    mentioned = [post["at"]["atMobiles"] for post in dingtalk[1].requests]
    assert mentioned == [["13900001111"], ["13900001111"], ["13900002222"]]
    assert "待办「首次联系客户」已逾期" in dingtalk[1].requests[0]["text"]["content"]


def test_a_task_reminder_reaches_its_assignee_before_the_task_is_due(
    deliver: Any, staff_member: Any, messages: Any, dispatch_now: Any, dingtalk: Any
) -> None:
    assignee = staff_member("张三", "sales", mobile="13900001111")
    event = deliver(
        "workflow.task.reminder_due",
        {"task_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": str(uuid.uuid4()),
         "assignee_id": assignee, "assignee_role": None, "kind": "first_contact", "title": "首次联系客户",
         "due_at": "2026-03-02T06:00:00Z", "escalate_to": {"user_id": None, "role": "manager"}},
    )  # fmt: skip

    dispatch_now()

    assert {m.recipient_id: m.status for m in messages(event_id=event.id, channel="inbox")} == {assignee: "sent"}
    [post] = dingtalk[1].requests
    assert post["at"]["atMobiles"] == ["13900001111"]
    assert "待办「首次联系客户」将于 2026-03-02 14:00 到期" in post["text"]["content"]
