"""The public pool (公海): customers not followed up in time, or released by their owner, go back with the reason;
staff claim them within their caps; whoever let one lapse cannot take it back at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

API = "/api/workflow/v1"
RECYCLE_B = timedelta(days=15, minutes=1)  # the default grade's recycle time, just past


def _claim(suite: Any, case: dict[str, Any], who: str) -> Any:
    return suite.client.post(f"{API}/pool/{case['id']}/claim", headers=suite.headers(who))


def test_a_customer_not_contacted_within_the_recycle_time_goes_to_the_public_pool(
    suite: Any, sales_team: list[str], fixed_clock: Any, run_timers: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.events()
    fixed_clock.advance(RECYCLE_B)

    run_timers()

    [recycled] = suite.events("workflow.case.recycled")
    assert recycled.data == {
        "case_id": case["id"],
        "customer_id": case["customer_id"],
        "from_owner": "sales-a",
        "to_owner": None,
        "reason": "超时未跟进",
    }
    pool = suite.client.get(f"{API}/pool", headers=suite.headers("sales-b")).get_json()["items"]
    assert [(item["id"], item["pool_reason"], item["released_by"]) for item in pool] == [
        (case["id"], "超时未跟进", "sales-a")
    ]
    assert suite.tasks(case["id"]) == []


def test_a_contact_restarts_the_recycle_clock(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    case = suite.lead(submitted_by="sales-a")
    fixed_clock.advance(timedelta(days=10))
    suite.deliver(suite.followup(case, user_id="sales-a"))
    fixed_clock.advance(timedelta(days=10))

    run_timers()

    assert suite.case(case["id"])["assignee_id"] == "sales-a"
    assert suite.events("workflow.case.recycled") == []


def test_a_grade_a_customer_is_recycled_sooner(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.deliver(suite.graded(case, "A"))
    fixed_clock.advance(timedelta(days=7, minutes=1))

    run_timers()

    assert suite.case(case["id"])["assignee_id"] is None


def test_a_review_task_for_a_role_stays_when_the_customer_is_released(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.deliver(suite.submitted(case))
    suite.deliver(suite.evaluation(case, "review", route_to="risk_director"))

    suite.client.post(f"{API}/cases/{case['id']}/release", json={"reason": "客户暂无需求"},
                      headers=suite.headers("sales-a"))  # fmt: skip

    assert [(task["kind"], task["assignee_role"]) for task in suite.tasks(case["id"])] == [("review", "risk_director")]


def test_a_case_in_risk_review_is_not_recycled(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.deliver(suite.submitted(case), suite.evaluation(case, "approve"))
    moved = suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": "risk_review"},
                              headers=suite.headers("sales-a"))  # fmt: skip
    assert moved.status_code == 200
    fixed_clock.advance(timedelta(days=40))

    run_timers()

    assert suite.case(case["id"])["assignee_id"] == "sales-a"


def test_another_salesperson_claims_a_customer_from_the_public_pool(
    suite: Any, sales_team: list[str], fixed_clock: Any, run_timers: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    fixed_clock.advance(RECYCLE_B)
    run_timers()
    suite.events()

    response = _claim(suite, case, "sales-b")

    assert response.status_code == 200
    assert response.get_json()["assignee_id"] == "sales-b"
    [claimed] = suite.events("workflow.case.claimed")
    assert (claimed.data["from_owner"], claimed.data["to_owner"], claimed.data["team_id"]) == (
        "sales-a",
        "sales-b",
        suite.team_id,
    )
    history = suite.client.get(f"{API}/cases/{case['id']}/history", headers=suite.headers("sales-b")).get_json()
    assert [item["kind"] for item in history["items"]][-2:] == ["recycled", "claimed"]


def test_a_claim_beyond_the_salespersons_cap_is_refused_with_409(
    suite: Any, sales_team: list[str], fixed_clock: Any, run_timers: Any
) -> None:
    suite.client.put(f"{API}/staff/sales-b/cap", json={"cap": 1}, headers=suite.admin())
    suite.lead(submitted_by="sales-b")
    fixed_clock.advance(timedelta(days=1))
    lapsed = suite.lead(submitted_by="sales-a")
    fixed_clock.advance(timedelta(days=15))
    suite.deliver(suite.followup(suite.case(suite_cases(suite, "sales-b")[0]), user_id="sales-b"))
    run_timers()
    assert suite.case(lapsed["id"])["assignee_id"] is None

    response = _claim(suite, lapsed, "sales-b")

    assert response.status_code == 409
    assert response.get_json()["code"] == "cap_reached"
    assert suite.case(lapsed["id"])["assignee_id"] is None


def test_whoever_let_a_customer_lapse_cannot_reclaim_it_until_the_cool_down_ends(
    suite: Any, sales_team: list[str], fixed_clock: Any, run_timers: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    fixed_clock.advance(RECYCLE_B)
    run_timers()

    at_once = _claim(suite, case, "sales-a")
    fixed_clock.advance(timedelta(days=7, minutes=1))
    later = _claim(suite, case, "sales-a")

    assert (at_once.status_code, at_once.get_json()["code"]) == (409, "reclaim_too_soon")
    assert later.status_code == 200


def test_the_reclaim_cool_down_is_configurable(make_suite: Any, fixed_clock: Any) -> None:
    suite = make_suite(LOANBRIDGE_WORKFLOW_RECLAIM_COOLDOWN_DAYS="0")
    case = suite.lead(submitted_by="sales-a")
    suite.client.post(f"{API}/cases/{case['id']}/release", json={"reason": "客户暂无需求"},
                      headers=suite.headers("sales-a"))  # fmt: skip

    response = _claim(suite, case, "sales-a")

    assert response.status_code == 200


def test_an_owner_releases_a_customer_to_the_public_pool_with_the_reason(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.events()

    response = suite.client.post(f"{API}/cases/{case['id']}/release", json={"reason": "客户暂无需求"},
                                 headers=suite.headers("sales-a"))  # fmt: skip

    assert response.status_code == 200
    [recycled] = suite.events("workflow.case.recycled")
    assert (recycled.data["from_owner"], recycled.data["reason"]) == ("sales-a", "客户暂无需求")


def test_a_new_lead_for_a_pool_customer_from_a_salesperson_becomes_theirs(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.client.post(f"{API}/cases/{case['id']}/release", json={"reason": "客户暂无需求"},
                      headers=suite.headers("sales-a"))  # fmt: skip

    second = suite.lead(submitted_by="sales-b", customer_id=case["customer_id"])

    assert second["assignee_id"] == "sales-b"


def test_a_claimed_case_cannot_be_claimed_again(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-a")

    response = _claim(suite, case, "sales-b")

    assert (response.status_code, response.get_json()["code"]) == (409, "not_in_pool")


def test_recycling_the_same_customer_twice_emits_once(suite: Any, fixed_clock: Any, run_timers: Any) -> None:
    suite.lead(submitted_by="sales-a")
    fixed_clock.advance(RECYCLE_B)

    run_timers()
    run_timers()

    assert len(suite.events("workflow.case.recycled")) == 1


def suite_cases(suite: Any, assignee: str) -> list[str]:
    listed = suite.client.get(f"{API}/cases?assignee_id={assignee}", headers=suite.admin()).get_json()["items"]
    return [item["id"] for item in listed]


def test_whoever_let_a_customer_lapse_cannot_take_it_back_by_entering_a_new_lead(
    suite: Any, fixed_clock: Any, run_timers: Any
) -> None:
    case = suite.lead(submitted_by="sales-a")
    fixed_clock.advance(RECYCLE_B)
    run_timers()

    again = suite.lead(submitted_by="sales-a", customer_id=case["customer_id"])

    assert again["assignee_id"] is None


def test_the_customers_of_a_deactivated_salesperson_go_to_the_public_pool_at_once(
    suite: Any, sales_team: list[str]
) -> None:
    first = suite.lead(submitted_by="sales-a")
    second = suite.lead(submitted_by="sales-a")
    kept = suite.lead(submitted_by="sales-b")
    suite.events()

    suite.user("sales-a", active=False, kind="deactivated")

    recycled = suite.events("workflow.case.recycled")
    assert sorted((event.data["case_id"], event.data["from_owner"], event.data["reason"]) for event in recycled) == (
        sorted([(first["id"], "sales-a", "负责人已停用"), (second["id"], "sales-a", "负责人已停用")])
    )
    assert suite.case(first["id"])["assignee_id"] is None and suite.tasks(first["id"]) == []
    assert suite.case(kept["id"])["assignee_id"] == "sales-b"
    pool = suite.client.get(f"{API}/pool", headers=suite.headers("sales-b")).get_json()["items"]
    assert sorted(item["id"] for item in pool) == sorted([first["id"], second["id"]])


def test_an_older_deactivation_than_the_account_s_reactivation_recycles_nothing(
    suite: Any, sales_team: list[str]
) -> None:
    case = suite.lead(submitted_by="sales-a")
    suite.events()
    reactivated = suite.event("identity.user.updated", {**suite.user("sales-a").data, "active": True},
                              subject="sales-a", sequence=9)  # fmt: skip
    older = suite.event("identity.user.deactivated", {**reactivated.data, "active": False}, subject="sales-a",
                        sequence=4)  # fmt: skip

    suite.deliver(reactivated, older)

    assert suite.events("workflow.case.recycled") == []
    assert suite.case(case["id"])["assignee_id"] == "sales-a"
