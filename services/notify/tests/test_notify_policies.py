"""Events become messages by the default policies: to the right people, on the right channels, once; staff read
them in their inbox; templates and policies are records an admin edits."""

from __future__ import annotations

import uuid
from typing import Any

from loanbridge.common.events.inbox import Outcome
from loanbridge.common.testing import harness

API = "/api/notify/v1"


def assigned(assignee: str, **overrides: Any) -> dict[str, Any]:
    return {
        "case_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "assignee_id": assignee,
        "previous_assignee_id": None,
        "team_id": None,
        "rule_id": "staff_entered",
        "reason": "staff_entered",
        "conflict_with": None,
        **overrides,
    }


def evaluation(**overrides: Any) -> dict[str, Any]:
    return {
        "evaluation_id": str(uuid.uuid4()),
        "lead_id": str(uuid.uuid4()),
        "customer_id": str(uuid.uuid4()),
        "product": "house",
        "ruleset_version": 1,
        "decision": "approve",
        "score": 612,
        "grade": "B",
        "route_to": None,
        "flags": [],
        "hits": [],
        "missing_documents": [],
        "missing_fields": [],
        "reasons": [],
        "supplement_required": False,
        **overrides,
    }


def test_a_case_assigned_reaches_the_salespersons_inbox_and_the_dingtalk_group(
    client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, as_user: Any, dingtalk: Any
) -> None:
    zhang = staff_member("张三", "sales", mobile="13900001111")
    event = deliver("workflow.case.assigned", assigned(zhang))

    dispatch_now()
    inbox = client.get(f"{API}/inbox", headers=as_user(zhang)).get_json()

    assert inbox["unread"] == 1
    assert inbox["items"][0]["title"] == "新案件分配"
    assert inbox["items"][0]["body"] == f"张三,您有一个新分配的案件(案件号 {event.data['case_id']}),请尽快联系客户。"
    (post,) = dingtalk[1].requests
    assert post["at"]["atMobiles"] == ["13900001111"]
    assert "@13900001111" in post["text"]["content"]


def test_the_same_event_delivered_twice_sends_one_message(
    notify: Any, new_event: Any, staff_member: Any, dispatch_now: Any, messages: Any, dingtalk: Any
) -> None:
    zhang = staff_member("张三", "sales")
    event = new_event("workflow.case.assigned", assigned(zhang))

    outcomes = harness.deliver([event], notify.runtime) + harness.deliver([event], notify.runtime)
    dispatch_now()
    dispatch_now()

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert sorted(m.channel for m in messages(event_id=event.id)) == ["dingtalk", "inbox"]
    assert len(dingtalk[1].requests) == 1


def test_two_policies_naming_the_same_person_on_the_same_channel_send_once(
    client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, as_user: Any, messages: Any
) -> None:
    director = staff_member("王总监", "risk_director")
    admin = as_user("admin-1", "admin")
    client.put(
        f"{API}/policies/review_again",
        json={
            "event_type": "risk.evaluation.completed",
            "condition": {"decision": "review"},
            "recipients": ["role:risk_director"],
            "channels": ["inbox"],
            "template": "review_routed",
        },
        headers=admin,
    )

    event = deliver(
        "risk.evaluation.completed", evaluation(decision="review", route_to="risk_director", reasons=["负债率过高"])
    )
    dispatch_now()

    assert [m.recipient_id for m in messages(event_id=event.id, channel="inbox")] == [director]
    inbox = client.get(f"{API}/inbox", headers=as_user(director, "risk_director")).get_json()
    assert [item["title"] for item in inbox["items"]] == ["待风控总监审核"]
    assert "负债率过高" in inbox["items"][0]["body"]


def test_a_duplicate_lead_reaches_both_owners_and_the_manager(deliver: Any, staff_member: Any, messages: Any) -> None:
    team_id = str(uuid.uuid4())
    manager = staff_member("刘经理", "manager")
    deliver("identity.team.created", {"team_id": team_id, "name": "济南一组", "manager_id": manager, "region": "济南"})
    owner = staff_member("张三", "sales", team_id=team_id)
    second = staff_member("李四", "sales", team_id=team_id)

    event = deliver(
        "workflow.case.assigned",
        assigned(owner, reason="duplicate_owner", rule_id="existing_owner", conflict_with=second, team_id=team_id),
    )

    inbox = messages(event_id=event.id, channel="inbox")
    assert {m.recipient_id for m in inbox} == {owner, second, manager}
    assert {m.template for m in inbox} == {"duplicate_lead"}


def test_a_high_risk_flag_reaches_every_risk_officer_and_director_but_not_sales(
    deliver: Any, staff_member: Any, messages: Any
) -> None:
    officer = staff_member("李风控", "risk_officer")
    director = staff_member("王总监", "risk_director")
    staff_member("张三", "sales")

    flagged = deliver("risk.evaluation.completed", evaluation(flags=["high_risk"]))
    calm = deliver("risk.evaluation.completed", evaluation())

    assert {m.recipient_id for m in messages(event_id=flagged.id, channel="inbox")} == {officer, director}
    assert messages(event_id=calm.id) == []


def test_a_role_nobody_is_known_in_still_hears_on_the_group_robot(deliver: Any, messages: Any) -> None:
    event = deliver("risk.evaluation.completed", evaluation(flags=["high_risk"]))

    found = messages(event_id=event.id)

    assert {(m.recipient_kind, m.recipient_id, m.channel) for m in found} == {
        ("group", "risk_officer", "dingtalk"),
        ("group", "risk_director", "dingtalk"),
    }


def test_a_loan_overdue_tells_the_owner_with_the_customers_mobile_masked(
    client: Any, deliver: Any, staff_member: Any, customer: Any, dispatch_now: Any, as_user: Any
) -> None:
    owner = staff_member("张三", "sales")
    customer_id = customer("13812345678")
    deliver("workflow.case.assigned", assigned(owner, customer_id=customer_id))
    loan_id = str(uuid.uuid4())
    deliver(
        "workflow.loan.overdue",
        {
            "loan_id": loan_id,
            "case_id": str(uuid.uuid4()),
            "customer_id": customer_id,
            "installment": 2,
            "due_date": "2026-02-20",
            "days_past_due": 5,
            "amount_due": 4387.5,
            "outstanding_principal": 180000,
        },
    )

    dispatch_now()
    items = client.get(f"{API}/inbox", headers=as_user(owner)).get_json()["items"]

    overdue = next(item for item in items if item["template"] == "loan_overdue")
    assert "138****5678" in overdue["body"]
    assert "13812345678" not in overdue["body"]
    assert "第2期已逾期 5 天" in overdue["body"]


def test_a_staff_member_marks_a_message_read_and_cannot_touch_anothers(
    client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, as_user: Any
) -> None:
    zhang = staff_member("张三", "sales")
    li = staff_member("李四", "sales")
    deliver("workflow.case.assigned", assigned(zhang))
    deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()
    first, _second = client.get(f"{API}/inbox", headers=as_user(zhang)).get_json()["items"]

    foreign = client.post(f"{API}/inbox/{first['id']}/read", headers=as_user(li))
    mine = client.post(f"{API}/inbox/{first['id']}/read", headers=as_user(zhang))
    unread = client.get(f"{API}/inbox?unread=true", headers=as_user(zhang)).get_json()
    client.post(f"{API}/inbox/read-all", headers=as_user(zhang))
    after = client.get(f"{API}/inbox", headers=as_user(zhang)).get_json()

    assert (foreign.status_code, mine.status_code) == (404, 200)
    assert (len(unread["items"]), unread["unread"]) == (1, 1)
    assert after["unread"] == 0 and all(item["read"] for item in after["items"])


def test_an_edited_template_is_used_for_the_next_event(
    client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, as_user: Any
) -> None:
    zhang = staff_member("张三", "sales")
    admin = as_user("admin-1", "admin")

    saved = client.put(
        f"{API}/templates/case_assigned",
        json={"title": "新客户来了", "body": "{{ recipient }} 请跟进案件 {{ case_id[:8] }}"},
        headers=admin,
    )
    event = deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()
    item = client.get(f"{API}/inbox", headers=as_user(zhang)).get_json()["items"][0]

    assert (saved.status_code, saved.get_json()["version"]) == (200, 2)
    assert (item["title"], item["body"]) == ("新客户来了", f"张三 请跟进案件 {event.data['case_id'][:8]}")


def test_a_template_that_is_not_valid_jinja_is_refused_with_the_field_named(client: Any, as_user: Any) -> None:
    response = client.put(
        f"{API}/templates/case_assigned", json={"body": "{{ recipient "}, headers=as_user("admin-1", "admin")
    )

    assert response.status_code == 422
    assert response.get_json()["code"] == "template_invalid"
    assert "body" in response.get_json()["details"]["fields"]


def test_a_template_cannot_reach_python_internals_from_the_sandbox(
    client: Any, deliver: Any, staff_member: Any, dispatch_now: Any, messages: Any, as_user: Any
) -> None:
    zhang = staff_member("张三", "sales")
    client.put(
        f"{API}/templates/case_assigned",
        json={"body": "{{ recipient.__class__.__init__.__globals__ }}"},
        headers=as_user("admin-1", "admin"),
    )

    event = deliver("workflow.case.assigned", assigned(zhang))
    dispatch_now()

    inbox = messages(event_id=event.id, channel="inbox")
    assert [(m.status, m.error) for m in inbox] == [("failed", "template_error")]


def test_a_switched_off_policy_sends_nothing(
    client: Any, deliver: Any, staff_member: Any, messages: Any, as_user: Any
) -> None:
    zhang = staff_member("张三", "sales")
    client.put(f"{API}/policies/case_assigned", json={"active": False}, headers=as_user("admin-1", "admin"))

    event = deliver("workflow.case.assigned", assigned(zhang))

    assert messages(event_id=event.id) == []


def test_a_policy_with_an_unknown_recipient_is_refused(client: Any, as_user: Any) -> None:
    response = client.put(
        f"{API}/policies/case_assigned", json={"recipients": ["everyone"]}, headers=as_user("admin-1", "admin")
    )

    assert response.status_code == 422
    assert "recipients" in response.get_json()["details"]["fields"]


def test_sales_cannot_edit_policies(client: Any, as_user: Any) -> None:
    response = client.put(f"{API}/policies/case_assigned", json={"active": False}, headers=as_user("s-1", "sales"))

    assert response.status_code == 403
