"""Cases open on intake.lead.created and the customer gets (or keeps) one owner: the salesperson who entered the
lead, the existing owner (撞单 reported), or the first matching assignment rule."""

from __future__ import annotations

from collections import Counter
from typing import Any

from loanbridge.common.events.inbox import Outcome

API = "/api/workflow/v1"
PARTNER = "6f1f6f1e-2c1b-4d8e-9a55-0b9d7c3e0a11"


def test_a_salespersons_own_lead_stays_theirs(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")

    [assigned] = suite.events("workflow.case.assigned")
    assert (case["assignee_id"], case["stage"]) == ("sales-zhang", "assigned")
    assert (assigned.data["assignee_id"], assigned.data["reason"]) == ("sales-zhang", "staff_entered")


def test_a_second_lead_for_an_owned_customer_goes_to_the_owner_and_names_both_parties(suite: Any) -> None:
    first = suite.lead(submitted_by="sales-zhang")
    suite.events()

    second = suite.lead(submitted_by="sales-li", customer_id=first["customer_id"])

    [assigned] = suite.events("workflow.case.assigned")
    assert second["assignee_id"] == "sales-zhang"
    assert (assigned.data["reason"], assigned.data["assignee_id"], assigned.data["conflict_with"]) == (
        "duplicate_owner",
        "sales-zhang",
        "sales-li",
    )
    history = suite.client.get(f"{API}/cases/{second['id']}/history", headers=suite.admin()).get_json()["items"]
    duplicate = next(item for item in history if item["kind"] == "duplicate")
    assert "sales-zhang" in duplicate["reason"] and "sales-li" in duplicate["reason"]


def test_the_same_lead_delivered_twice_opens_one_case(suite: Any) -> None:
    event = suite.lead_event()

    outcomes = suite.deliver(event, event)

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert len(suite.events("workflow.case.assigned")) == 1


def test_a_partners_lead_in_linyi_for_car_is_assigned_by_the_matching_rule(suite: Any, sales_team: list[str]) -> None:
    suite.rule(position=1, name="青岛房抵", condition={"cities": ["青岛"]}, strategy="user", user_id="sales-a")
    linyi = suite.rule(position=2, name="临沂车抵", condition={"cities": ["临沂"], "products": ["car"]},
                       strategy="user", user_id="sales-b")  # fmt: skip

    case = suite.partner_lead(city="临沂", product="car")

    [assigned] = suite.events("workflow.case.assigned")
    assert case["assignee_id"] == "sales-b"
    assert (assigned.data["rule_id"], assigned.data["reason"]) == (linyi["id"], "rule")
    assert assigned.data["team_id"] == suite.team_id


def test_thirty_leads_to_a_team_of_three_by_round_robin_give_ten_each(suite: Any, sales_team: list[str]) -> None:
    suite.rule(name="济南轮询", condition={"cities": ["济南"]}, strategy="round_robin", team_id=suite.team_id)

    cases = [suite.partner_lead() for _ in range(30)]

    assert Counter(case["assignee_id"] for case in cases) == {member: 10 for member in sales_team}


def test_least_loaded_picks_the_member_with_the_fewest_open_customers(suite: Any, sales_team: list[str]) -> None:
    for _ in range(2):
        suite.lead(submitted_by="sales-a")
    suite.lead(submitted_by="sales-b")
    suite.rule(name="最少负载", strategy="least_loaded", team_id=suite.team_id)

    case = suite.partner_lead()

    assert case["assignee_id"] == "sales-c"


def test_an_inactive_or_capped_member_gets_no_case(suite: Any, sales_team: list[str]) -> None:
    suite.user("sales-a", active=False, kind="deactivated")
    capped = suite.client.put(f"{API}/staff/sales-b/cap", json={"cap": 1}, headers=suite.admin())
    assert capped.status_code == 200
    suite.lead(submitted_by="sales-b")
    suite.rule(name="轮询", strategy="round_robin", team_id=suite.team_id)

    cases = [suite.partner_lead() for _ in range(4)]

    assert {case["assignee_id"] for case in cases} == {"sales-c"}


def test_a_lead_no_rule_can_place_waits_unassigned_in_the_public_pool(suite: Any, sales_team: list[str]) -> None:
    suite.rule(name="青岛", condition={"cities": ["青岛"]}, strategy="round_robin", team_id=suite.team_id)

    case = suite.partner_lead(city="济南")

    pool = suite.client.get(f"{API}/pool", headers=suite.headers("sales-a")).get_json()["items"]
    assert (case["assignee_id"], case["stage"]) == (None, "new")
    assert [item["id"] for item in pool] == [case["id"]]


def test_a_manager_reassigns_a_case_and_the_move_is_in_the_history(suite: Any, sales_team: list[str]) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.events()

    response = suite.client.post(f"{API}/cases/{case['id']}/assignment",
                                 json={"assignee_id": "sales-b", "reason": "客户要求更换"},
                                 headers=suite.manager())  # fmt: skip

    assert response.status_code == 200
    assert response.get_json()["assignee_id"] == "sales-b"
    [assigned] = suite.events("workflow.case.assigned")
    assert (assigned.data["previous_assignee_id"], assigned.data["assignee_id"]) == ("sales-a", "sales-b")
    history = suite.client.get(f"{API}/cases/{case['id']}/history", headers=suite.manager()).get_json()["items"]
    assert [(item["kind"], item["to"]) for item in history if item["kind"] == "assigned"] == [
        ("assigned", "sales-a"),
        ("assigned", "sales-b"),
    ]


def test_a_salesperson_cannot_reassign(suite: Any, sales_team: list[str]) -> None:
    case = suite.lead(submitted_by="sales-a")

    response = suite.client.post(f"{API}/cases/{case['id']}/assignment", json={"assignee_id": "sales-b"},
                                 headers=suite.headers("sales-a"))  # fmt: skip

    assert response.status_code == 403
    assert suite.case(case["id"])["assignee_id"] == "sales-a"


def test_an_older_identity_event_does_not_undo_a_newer_one(suite: Any, sales_team: list[str]) -> None:
    newer = suite.event("identity.user.deactivated", {**suite.user("sales-x").data, "active": False},
                        subject="sales-x", sequence=5)  # fmt: skip
    older = suite.event("identity.user.updated", {**newer.data, "active": True}, subject="sales-x", sequence=3)
    suite.deliver(newer, older)
    suite.rule(name="指定", strategy="user", user_id="sales-x")

    case = suite.partner_lead()

    assert case["assignee_id"] is None


def test_a_resync_re_announces_the_owner_of_every_open_case(suite: Any) -> None:
    from loanbridge.common import service

    open_case = suite.lead(submitted_by="sales-a")
    closed = suite.lead(submitted_by="sales-b")
    suite.client.post(f"{API}/cases/{closed['id']}/transitions", json={"to": "lost"}, headers=suite.headers("sales-b"))
    suite.events()

    emitted = service.get("workflow").resync(suite.runtime)  # type: ignore[misc]

    [snapshot] = suite.events("workflow.case.assigned")
    assert emitted == 1
    assert (snapshot.data["case_id"], snapshot.data["assignee_id"], snapshot.data["reason"]) == (
        open_case["id"],
        "sales-a",
        "resync",
    )


def test_a_rule_with_an_expression_zen_cannot_parse_is_refused(suite: Any) -> None:
    response = suite.client.post(
        f"{API}/assignment-rules",
        json={"position": 1, "name": "坏规则", "condition": {"expression": "amount >"}, "strategy": "user",
              "user_id": "sales-a"},
        headers=suite.admin(),
    )  # fmt: skip

    assert response.status_code == 422
    assert list(response.get_json()["details"]["fields"]) == ["condition.expression"]


def test_a_team_strategy_without_a_team_is_refused(suite: Any) -> None:
    body = {"position": 1, "name": "轮询", "strategy": "round_robin"}

    response = suite.client.post(f"{API}/assignment-rules", json=body, headers=suite.admin())

    assert response.status_code == 422
    assert "team_id" in response.get_json()["details"]["fields"]


def test_a_deactivated_rule_no_longer_assigns(suite: Any, sales_team: list[str]) -> None:
    rule = suite.rule(name="指定", strategy="user", user_id="sales-a")
    changed = suite.client.put(f"{API}/assignment-rules/{rule['id']}",
                               json={"position": 10, "name": "指定", "strategy": "user", "user_id": "sales-a",
                                     "active": False}, headers=suite.admin())  # fmt: skip

    case = suite.partner_lead()

    assert changed.status_code == 200 and changed.get_json()["active"] is False
    assert case["assignee_id"] is None
    listed = suite.client.get(f"{API}/assignment-rules", headers=suite.manager()).get_json()["items"]
    assert [item["id"] for item in listed] == [rule["id"]]
