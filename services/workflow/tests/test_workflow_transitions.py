"""Transitions through the API, checked against the case's process definition: a move it forbids is a 409 naming
the rule, a role it does not allow a 403, and neither changes anything. Cases outside one's scope are 404."""

from __future__ import annotations

import copy
from typing import Any

from loanbridge.workflow.domain import processes

API = "/api/workflow/v1"


def _move(suite: Any, case: dict[str, Any], to: str, headers: dict[str, str], reason: str | None = None) -> Any:
    return suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": to, "reason": reason},
                             headers=headers)  # fmt: skip


def test_the_owner_moves_an_assigned_case_to_pre_review_and_the_change_is_published(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    suite.events()

    response = _move(suite, case, "pre_review", suite.headers("sales-zhang"), reason="资料齐全")

    assert response.status_code == 200
    assert response.get_json()["stage"] == "pre_review"
    [changed] = suite.events("workflow.stage.changed")
    assert changed.data == {
        "case_id": case["id"],
        "customer_id": case["customer_id"],
        "from_stage": "assigned",
        "to_stage": "pre_review",
        "actor": "sales-zhang",
        "reason": "资料齐全",
    }


def test_a_transition_the_definition_does_not_have_is_refused_with_409_and_changes_nothing(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    suite.events()

    response = _move(suite, case, "contract", suite.headers("sales-zhang"))

    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "transition_not_allowed"
    assert body["details"] == {"rule": "no_transition", "from": "assigned", "to": "contract"}
    assert suite.case(case["id"])["stage"] == "assigned"
    assert suite.events() == []


def test_a_role_the_transition_does_not_allow_is_refused_with_403_and_changes_nothing(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    _move(suite, case, "pre_review", suite.headers("sales-zhang"))
    suite.events()

    response = _move(suite, case, "plan_matching", suite.headers("sales-zhang"))

    assert response.status_code == 403
    assert response.get_json()["details"]["transition"] == "pre_review_passed"
    assert suite.case(case["id"])["stage"] == "pre_review"
    assert suite.events() == []


def test_a_large_amount_needs_the_risk_director_to_pass_pre_review(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang", amount=800000)
    _move(suite, case, "pre_review", suite.headers("sales-zhang"))

    officer = _move(suite, case, "plan_matching", suite.headers("risk-zhao", "risk_officer"))
    director = _move(suite, case, "plan_matching", suite.headers("risk-qian", "risk_director"))

    assert officer.status_code == 403
    assert officer.get_json()["details"]["rule"] == "large_amount_needs_director"
    assert director.status_code == 200
    assert director.get_json()["stage"] == "plan_matching"


def test_a_small_amount_passes_pre_review_with_a_risk_officer(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang", amount=200000)
    _move(suite, case, "pre_review", suite.headers("sales-zhang"))

    response = _move(suite, case, "plan_matching", suite.headers("risk-zhao", "risk_officer"))

    assert response.status_code == 200


def test_a_condition_on_the_customers_grade_reads_the_grade_risk_gave(suite: Any) -> None:
    definition = copy.deepcopy(processes.default_definition())
    for transition in definition["transitions"]:
        if transition["id"] == "submit_for_pre_review":
            transition["condition"] = 'grade == "A"'
    suite.client.post(f"{API}/processes", json={"product": "credit", "definition": definition}, headers=suite.admin())
    assert suite.client.post(f"{API}/processes/credit/versions/2/publish", headers=suite.admin()).status_code == 200
    good, poor = suite.lead(product="credit"), suite.lead(product="credit")
    suite.deliver(suite.graded(good, "A"), suite.graded(poor, "C"))

    moved = _move(suite, good, "pre_review", suite.headers("sales-zhang"))
    refused = _move(suite, poor, "pre_review", suite.headers("sales-zhang"))

    assert moved.status_code == 200
    assert refused.status_code == 409
    assert refused.get_json()["details"] == {"rule": "submit_for_pre_review", "condition": 'grade == "A"'}


def test_a_case_cannot_reach_contract_before_a_lender_approved_it(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    risk = suite.headers("risk-zhao", "risk_officer")
    _move(suite, case, "pre_review", suite.headers("sales-zhang"))
    _move(suite, case, "plan_matching", risk)
    _move(suite, case, "risk_review", suite.headers("sales-zhang"))

    response = _move(suite, case, "contract", risk)

    assert response.status_code == 409
    assert response.get_json()["details"] == {"rule": "lender_approved", "condition": 'lender_decision == "approved"'}


def test_a_salesperson_sees_only_their_own_cases(suite: Any) -> None:
    mine = suite.lead(submitted_by="sales-zhang")
    theirs = suite.lead(submitted_by="sales-li")
    headers = suite.headers("sales-zhang")

    listed = suite.client.get(f"{API}/cases", headers=headers).get_json()["items"]
    other = suite.client.get(f"{API}/cases/{theirs['id']}", headers=headers)
    move = _move(suite, theirs, "pre_review", headers)

    assert [item["id"] for item in listed] == [mine["id"]]
    assert (other.status_code, move.status_code) == (404, 404)
    assert suite.case(theirs["id"])["stage"] == "assigned"


def test_a_manager_sees_the_teams_cases_and_risk_sees_every_case(suite: Any, sales_team: list[str]) -> None:
    team_case = suite.lead(submitted_by="sales-a")
    outside = suite.lead(submitted_by="sales-elsewhere")

    managed = suite.client.get(f"{API}/cases", headers=suite.manager()).get_json()["items"]
    everything = suite.client.get(f"{API}/cases", headers=suite.headers("risk-zhao", "risk_officer")).get_json()

    assert [item["id"] for item in managed] == [team_case["id"]]
    assert {item["id"] for item in everything["items"]} == {team_case["id"], outside["id"]}


def test_my_cases_by_stage(suite: Any) -> None:
    first = suite.lead(submitted_by="sales-zhang")
    second = suite.lead(submitted_by="sales-zhang")
    _move(suite, second, "pre_review", suite.headers("sales-zhang"))

    response = suite.client.get(f"{API}/cases?mine=true&stage=assigned", headers=suite.headers("sales-zhang"))

    assert [item["id"] for item in response.get_json()["items"]] == [first["id"]]


def test_the_history_lists_every_stage_the_case_went_through(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    _move(suite, case, "pre_review", suite.headers("sales-zhang"))
    _move(suite, case, "lost", suite.headers("sales-zhang"), reason="客户已在他处办理")

    history = suite.client.get(f"{API}/cases/{case['id']}/history", headers=suite.headers("sales-zhang")).get_json()

    stages = [(item["from"], item["to"]) for item in history["items"] if item["kind"] == "stage"]
    assert stages == [("new", "assigned"), ("assigned", "pre_review"), ("pre_review", "lost")]
    assert suite.case(case["id"])["closed_at"] is not None
