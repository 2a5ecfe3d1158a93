"""Each channel adapter against a local fake that checks the provider's documented format and signature;
robots' bursts merge into a digest; every attempt logged; transient failures retried, permanent ones published
as notify.message.failed, successes as notify.message.sent."""

from __future__ import annotations

import email
import uuid
from datetime import timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loanbridge.common.events.schemas import repository_root, validate_data
from loanbridge.common.testing import harness
from loanbridge.notify import orm
from loanbridge.notify.channels.dingtalk import DingTalkRobot
from loanbridge.notify.channels.email import SmtpEmail
from loanbridge.notify.channels.sms import AliyunSms
from loanbridge.notify.channels.wecom import WeComRobot

API = "/api/notify/v1"
ROOT = repository_root(Path(__file__))


def assigned(assignee: str) -> dict[str, Any]:
    return {
        "case_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "assignee_id": assignee,
        "previous_assignee_id": None,
        "team_id": None,
        "rule_id": "staff_entered",
        "reason": "staff_entered",
        "conflict_with": None,
    }


def test_dingtalk_posts_a_signed_text_that_mentions_by_mobile_or_user_id(dingtalk: Any) -> None:
    base, recorder = dingtalk
    robot = DingTalkRobot(f"{base}/robot/send?access_token=dt-access-token", "SEC0123456789abcdef")

    by_mobile = robot.post("待办逾期", mobiles=["13900001111"])
    by_id = robot.post("新案件", user_ids=["manager0921"])

    assert (by_mobile.ok, by_id.ok, recorder.rejected) == (True, True, [])
    first, second = recorder.requests
    assert first["msgtype"] == "text" and first["text"]["content"] == "待办逾期 @13900001111"
    assert first["at"] == {"atMobiles": ["13900001111"], "atUserIds": [], "isAtAll": False}
    assert second["at"]["atUserIds"] == ["manager0921"]


def test_dingtalk_with_the_wrong_secret_is_refused_by_the_fake_and_fails_permanently(dingtalk: Any) -> None:
    base, recorder = dingtalk
    robot = DingTalkRobot(f"{base}/robot/send?access_token=dt-access-token", "SEC-wrong")

    result = robot.post("测试")

    assert (result.ok, result.code, result.transient) == (False, "310000", False)
    assert recorder.rejected == ["sign"]


def test_wecom_posts_to_the_webhook_key_with_mentions(wecom: Any) -> None:
    base, recorder = wecom
    robot = WeComRobot(base, "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa")

    result = robot.post("高风险预警", user_ids=["wangqing"], mobiles=["13800001111"])

    assert (result.ok, recorder.rejected) == (True, [])
    assert recorder.requests == [
        {
            "msgtype": "text",
            "text": {"content": "高风险预警", "mentioned_list": ["wangqing"], "mentioned_mobile_list": ["13800001111"]},
        }
    ]


def test_wecom_with_a_wrong_key_fails_permanently(wecom: Any) -> None:
    result = WeComRobot(wecom[0], "wrong-key").post("测试")

    assert (result.ok, result.code, result.transient) == (False, "93000", False)


def test_aliyun_sendsms_carries_a_signature_the_documented_algorithm_verifies(aliyun: Any) -> None:
    base, recorder = aliyun
    sms = AliyunSms(base, "LTAI-test-key", "test-secret/with+chars=", "鲁信助贷")

    result = sms.send("13812345678", "SMS_REPAYMENT_DUE", {"amount": "8900.00", "due_date": "2026-03-20 *~"})

    assert (result.ok, result.code, recorder.rejected) == (True, "OK", [])
    (request,) = recorder.requests
    assert request["SignName"] == "鲁信助贷"
    assert request["TemplateParam"] == '{"amount":"8900.00","due_date":"2026-03-20 *~"}'


def test_aliyun_with_a_wrong_secret_is_refused_as_signature_does_not_match(aliyun: Any) -> None:
    result = AliyunSms(aliyun[0], "LTAI-test-key", "another-secret", "鲁信助贷").send("13812345678", "SMS_X", {})

    assert (result.ok, result.code, result.transient) == (False, "SignatureDoesNotMatch", False)
    assert aliyun[1].rejected == ["signature"]


def test_aliyun_flow_control_is_transient_and_a_bad_number_is_permanent(aliyun: Any) -> None:
    base, recorder = aliyun
    sms = AliyunSms(base, "LTAI-test-key", "test-secret/with+chars=", "鲁信助贷")
    recorder.answers = [(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}), (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"})]

    limited, illegal = sms.send("13812345678", "SMS_X", {}), sms.send("1381234", "SMS_X", {})

    assert (limited.transient, illegal.transient) == (True, False)


def test_email_is_sent_over_smtp_with_subject_and_body(smtp: Any) -> None:
    port, recorder = smtp

    result = SmtpEmail("127.0.0.1", port, "notify@loanbridge.local").send("li@firm.example", "待办逾期", "请处理")

    assert result.ok
    (sent,) = recorder.messages
    message = email.message_from_bytes(sent["data"], policy=email_policy.default)
    assert (sent["rcpt"], message["Subject"], message.get_content().strip()) == (
        ["<li@firm.example>"],
        "待办逾期",
        "请处理",
    )


def test_a_staff_policy_on_email_and_wecom_reaches_both(
    client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, as_user: Any, smtp: Any, wecom: Any, contacts: Any
) -> None:
    zhang = staff_member("张三", "sales")
    contacts.staff_members[zhang]["wecom_user_id"] = "zhangsan"
    client.put(f"{API}/policies/case_assigned", json={"channels": ["email", "wecom"]}, headers=as_user("a", "admin"))

    deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()

    assert [m["rcpt"] for m in smtp[1].messages] == [[f"<{zhang[:8]}@firm.example>"]]
    assert [r["text"]["mentioned_list"] for r in wecom[1].requests] == [["zhangsan"]]


def test_a_burst_to_one_dingtalk_group_merges_into_a_digest_and_drops_nothing(
    notify: Any, deliver: Any, staff_member: Any, dispatch_now: Any, dingtalk: Any, messages: Any
) -> None:
    zhang = staff_member("张三", "sales")
    for _ in range(25):
        deliver("workflow.case.assigned", assigned(zhang))

    dispatch_now()

    posts = dingtalk[1].requests
    robot_messages = messages(channel="dingtalk")
    assert len(posts) == 20
    assert posts[-1]["text"]["content"].startswith("【消息汇总】共 6 条通知")
    assert {m.status for m in robot_messages} == {"sent"} and len(robot_messages) == 25


def test_a_group_that_had_its_twenty_posts_this_minute_hears_the_rest_a_minute_later(
    notify: Any, deliver: Any, staff_member: Any, dispatch_now: Any, dingtalk: Any, clock: Any, messages: Any
) -> None:
    zhang = staff_member("张三", "sales")
    for _ in range(20):
        deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()
    for _ in range(3):
        deliver("workflow.case.assigned", assigned(zhang))

    dispatch_now()
    within_minute = len(dingtalk[1].requests)
    clock.advance(timedelta(seconds=61))
    dispatch_now()

    assert (within_minute, len(dingtalk[1].requests)) == (20, 23)
    assert {m.status for m in messages(channel="dingtalk")} == {"sent"}


def test_a_transient_failure_is_retried_with_back_off_and_every_attempt_is_logged(
    notify: Any, client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, dingtalk: Any, clock: Any,
    messages: Any, as_user: Any,
) -> None:  # fmt: skip
    dingtalk[1].answers = [(200, {"errcode": 130101, "errmsg": "send too fast"}), (503, {})]
    zhang = staff_member("张三", "sales")
    deliver("workflow.case.assigned", assigned(zhang))

    dispatch_now()
    clock.advance(timedelta(seconds=29))
    too_soon = dispatch_now()
    clock.advance(timedelta(seconds=1))
    dispatch_now()
    clock.advance(timedelta(seconds=120))
    dispatch_now()

    (message,) = messages(channel="dingtalk")
    log = client.get(f"{API}/messages/{message.id}/deliveries", headers=as_user("ops-1", "ops")).get_json()
    assert too_soon == 0
    assert [(d["attempt"], d["status"], d["provider_code"]) for d in log["deliveries"]] == [
        (1, "retrying", "130101"),
        (2, "retrying", "http_503"),
        (3, "sent", "0"),
    ]
    assert {d["masked_recipient"] for d in log["deliveries"]} == {f"user:{zhang}"}
    assert log["deliveries"][-1]["template"] == "case_assigned" and len(log["deliveries"][-1]["body_sha256"]) == 64
    published = [e for e in harness.drain_outbox(notify.runtime) if e.data["channel"] == "dingtalk"]
    assert [(e.type, e.data["attempt"]) for e in published] == [("notify.message.sent", 3)]


def test_a_permanent_failure_publishes_message_failed_and_counts_in_metrics(
    notify: Any, client: Any, deliver: Any, customer: Any, dispatch_now: Any, aliyun: Any, clock: Any, messages: Any
) -> None:
    aliyun[1].answers = [(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"})]
    customer_id = customer("13812345678")
    deliver(
        "workflow.loan.settled",
        {"loan_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": customer_id,
         "settled_at": "2026-03-02T02:00:00Z"},
    )  # fmt: skip
    clock.advance(timedelta(days=31))

    dispatch_now()

    (message,) = messages(channel="sms")
    failed = [e for e in harness.drain_outbox(notify.runtime) if e.type == "notify.message.failed"]
    assert [(e.data["message_id"], e.data["error"], e.data["channel"]) for e in failed] == [
        (message.id, "isv.MOBILE_NUMBER_ILLEGAL", "sms")
    ]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'loanbridge_notify_messages_total{channel="sms",outcome="failed"}' in metrics


def test_published_notify_events_match_their_documented_schemas(
    notify: Any, deliver: Any, staff_member: Any, customer: Any, dispatch_now: Any, aliyun: Any, clock: Any
) -> None:
    aliyun[1].answers = [(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"})]
    deliver("workflow.case.assigned", assigned(staff_member("张三", "sales")))
    deliver(
        "workflow.loan.settled",
        {"loan_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": customer(),
         "settled_at": "2026-03-02T02:00:00Z"},
    )  # fmt: skip
    dispatch_now()
    clock.advance(timedelta(days=31))
    dispatch_now()

    published = [e for e in harness.drain_outbox(notify.runtime) if e.type.startswith("notify.")]

    assert {e.type for e in published} == {"notify.message.sent", "notify.message.failed"}
    assert [error for event in published for error in validate_data(event, ROOT)] == []


def test_a_contacts_outage_is_retried_rather_than_failed(
    notify: Any, deliver: Any, staff_member: Any, dispatch_now: Any, messages: Any, contacts: Any
) -> None:
    from loanbridge.notify.contacts import ContactsUnavailable

    zhang = staff_member("张三", "sales")
    original = contacts.staff

    def down(user_id: str) -> Any:
        raise ContactsUnavailable("http_503")

    contacts.staff = down
    deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()
    contacts.staff = original

    (robot,) = messages(channel="dingtalk")
    assert (robot.status, robot.error, robot.attempts) == ("pending", "contacts_unavailable", 1)
    assert [m.status for m in messages(channel="inbox")] == ["sent"]


def test_the_delivery_log_keeps_no_body_only_its_hash(
    notify: Any, deliver: Any, customer: Any, clock: Any, dispatch_now: Any
) -> None:
    customer_id = customer("13812345678")
    deliver(
        "workflow.loan.settled",
        {"loan_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "customer_id": customer_id,
         "settled_at": "2026-03-02T02:00:00Z"},
    )  # fmt: skip
    clock.advance(timedelta(days=31))
    dispatch_now()

    with notify.runtime.database.session() as session:
        (entry,) = session.execute(sa.select(orm.deliveries).where(orm.deliveries.c.channel == "sms")).all()

    assert (entry.status, entry.masked_recipient, entry.template) == ("sent", "138****5678", "reloan_offer")
    assert len(entry.body_sha256) == 64


def test_without_contacts_a_group_post_still_goes_out_unmentioned_and_the_inbox_still_works(
    notify: Any, deliver: Any, staff_member: Any, dispatch_now: Any, dingtalk: Any, messages: Any
) -> None:
    from loanbridge.notify.contacts import NoContacts

    zhang = staff_member("张三", "sales")
    notify.runtime.config.contacts = NoContacts()

    deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()

    (post,) = dingtalk[1].requests
    assert post["at"] == {"atMobiles": [], "atUserIds": [], "isAtAll": False}
    assert post["text"]["content"].startswith("新案件分配\n张三,您有一个新分配的案件")
    assert {m.channel: m.status for m in messages()} == {"inbox": "sent", "dingtalk": "sent"}
