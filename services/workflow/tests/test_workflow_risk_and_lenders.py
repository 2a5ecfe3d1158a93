"""What risk's decision does to a case in 资质初审, and lender submissions and decisions recorded on the case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loanbridge.common.events.errors import NotYet
from loanbridge.common.events.inbox import Outcome

API = "/api/workflow/v1"
SUPPLEMENT_HIT = {"rule_id": "docs-1", "reason": "补充材料", "inputs": {"documents": ["id_card"]}}


def _in_pre_review(suite: Any, **kwargs: Any) -> dict[str, Any]:
    case = suite.lead(submitted_by="sales-zhang", **kwargs)
    suite.deliver(suite.submitted(case))
    suite.events()
    return suite.case(case["id"])


def test_a_submitted_application_moves_the_case_to_pre_review(suite: Any) -> None:
    case = _in_pre_review(suite)

    assert case["stage"] == "pre_review"
    assert case["documents"] == ["id_card"]


def test_approval_moves_the_case_to_plan_matching(suite: Any) -> None:
    case = _in_pre_review(suite)

    suite.deliver(suite.evaluation(case, "approve"))

    assert suite.case(case["id"])["stage"] == "plan_matching"
    [changed] = suite.events("workflow.stage.changed")
    assert (changed.data["to_stage"], changed.data["actor"]) == ("plan_matching", "system")


def test_a_rejection_sends_the_case_to_the_rejected_pool_with_the_reason(suite: Any) -> None:
    case = _in_pre_review(suite)
    hit = {"rule_id": "credit-3", "reason": "近3个月征信查询过多", "inputs": {"credit_inquiries_3m": 9}}

    suite.deliver(suite.evaluation(case, "reject", hits=[hit]))

    assert suite.case(case["id"])["stage"] == "rejected"
    [changed] = suite.events("workflow.stage.changed")
    assert "近3个月征信查询过多" in changed.data["reason"]


def test_a_rejection_for_supplementary_material_goes_back_to_the_owner_with_a_task_naming_what_is_missing(
    suite: Any,
) -> None:
    case = _in_pre_review(suite)

    suite.deliver(suite.evaluation(case, "reject", hits=[SUPPLEMENT_HIT], missing_documents=["credit_report"]))

    assert suite.case(case["id"])["stage"] == "assigned"
    [task] = [task for task in suite.tasks(case["id"]) if task["kind"] == "supplement"]
    assert task["assignee_id"] == "sales-zhang"
    assert "credit_report" in task["title"]
    mine = suite.client.get(f"{API}/tasks", headers=suite.headers("sales-zhang")).get_json()["items"]
    assert [item["details"]["missing_documents"] for item in mine if item["kind"] == "supplement"] == [
        ["credit_report"]
    ]


def test_a_resubmission_after_a_supplement_closes_the_task_and_returns_to_pre_review(suite: Any) -> None:
    case = _in_pre_review(suite)
    suite.deliver(suite.evaluation(case, "reject", hits=[SUPPLEMENT_HIT], missing_documents=["credit_report"]))
    upload = suite.event("intake.document.uploaded", {"lead_id": case["id"], "document_id": "d-1",
                                                      "doc_type": "credit_report"}, subject=case["id"])  # fmt: skip

    suite.deliver(upload, suite.submitted(case, documents=("id_card", "credit_report")))

    assert suite.case(case["id"])["stage"] == "pre_review"
    assert [task["kind"] for task in suite.tasks(case["id"], status="done")].count("supplement") == 1


def test_a_rejection_risk_marks_as_supplement_required_goes_back_to_the_owner(suite: Any) -> None:
    case = _in_pre_review(suite)

    suite.deliver(suite.evaluation(case, "reject", supplement_required=True, reasons=["缺少必备材料"]))

    assert suite.case(case["id"])["stage"] == "assigned"
    assert [task["kind"] for task in suite.tasks(case["id"])] == ["supplement"]


def test_review_with_route_to_creates_a_review_task_for_that_role(suite: Any) -> None:
    case = _in_pre_review(suite)

    suite.deliver(suite.evaluation(case, "review", route_to="risk_director"))

    [task] = [task for task in suite.tasks(case["id"]) if task["kind"] == "review"]
    assert (task["assignee_role"], task["assignee_id"]) == ("risk_director", None)
    director = suite.client.get(f"{API}/tasks", headers=suite.headers("risk-qian", "risk_director")).get_json()
    officer = suite.client.get(f"{API}/tasks", headers=suite.headers("risk-zhao", "risk_officer")).get_json()
    assert [item["id"] for item in director["items"]] == [task["id"]]
    assert officer["items"] == []
    assert suite.case(case["id"])["stage"] == "pre_review"


def test_the_same_evaluation_twice_has_one_effect(suite: Any) -> None:
    case = _in_pre_review(suite)
    evaluation = suite.evaluation(case, "review", route_to="risk_director")

    outcomes = suite.deliver(evaluation, evaluation)

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert len([task for task in suite.tasks(case["id"]) if task["kind"] == "review"]) == 1


def test_an_older_evaluation_arriving_late_changes_nothing(suite: Any, fixed_clock: Any) -> None:
    case = _in_pre_review(suite)
    older = suite.evaluation(case, "reject", occurred_at=fixed_clock.now() + timedelta(minutes=1))
    newer = suite.evaluation(case, "approve", occurred_at=fixed_clock.now() + timedelta(minutes=2))

    suite.deliver(newer, older)

    assert suite.case(case["id"])["stage"] == "plan_matching"


def test_an_evaluation_before_its_case_is_known_waits(suite: Any) -> None:
    unknown = {"id": "2a0c3f52-8d9e-4b1a-9f6e-7c5d4b3a2e10", "customer_id": "c-1"}

    with pytest.raises(NotYet):
        suite.deliver(suite.evaluation(unknown, "approve"))


def test_an_evaluation_before_its_submission_waits_until_the_case_is_in_pre_review(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    evaluation = suite.evaluation(case, "approve")

    with pytest.raises(NotYet):
        suite.deliver(evaluation)
    suite.deliver(suite.submitted(case))
    suite.deliver(evaluation)

    assert suite.case(case["id"])["stage"] == "plan_matching"


def test_an_evaluation_of_a_resubmission_arriving_before_it_waits_for_it(suite: Any, fixed_clock: Any) -> None:
    case = _in_pre_review(suite)
    suite.deliver(suite.evaluation(case, "reject", supplement_required=True, missing_documents=["credit_report"]))
    fixed_clock.advance(timedelta(hours=1))
    resubmission = suite.submitted(case, documents=("id_card", "credit_report"))
    fixed_clock.advance(timedelta(minutes=1))
    approval = suite.evaluation(case, "approve", caused_by=resubmission)

    with pytest.raises(NotYet):
        suite.deliver(approval)
    suite.deliver(resubmission, approval)

    assert suite.case(case["id"])["stage"] == "plan_matching"


def _in_risk_review(suite: Any) -> dict[str, Any]:
    case = _in_pre_review(suite)
    suite.deliver(suite.evaluation(case, "approve"))
    response = suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": "risk_review"},
                                 headers=suite.headers("sales-zhang"))  # fmt: skip
    assert response.status_code == 200
    suite.events()
    return case


def _submit(suite: Any, case: dict[str, Any]) -> dict[str, Any]:
    response = suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions",
        json={"lender": "齐鲁银行", "lender_product": "房抵经营贷", "amount": 300000},
        headers=suite.headers("sales-zhang"),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_lender_approval_is_recorded_and_moves_the_case_to_contract(suite: Any) -> None:
    case = _in_risk_review(suite)
    submission = _submit(suite, case)

    decided = suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions/{submission['id']}/decision",
        json={"decision": "approved", "approved_amount": 280000},
        headers=suite.headers("ops-sun", "ops"),
    )

    assert decided.status_code == 200
    assert suite.case(case["id"])["stage"] == "contract"
    [decision] = suite.events("workflow.lender.decided")
    assert (decision.data["decision"], decision.data["approved_amount"]) == ("approved", 280000)


def test_lender_events_carry_the_submission_and_the_decision(suite: Any) -> None:
    case = _in_risk_review(suite)
    submission = _submit(suite, case)
    suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions/{submission['id']}/decision",
        json={"decision": "declined", "reason": "负债率过高", "next_stage": "plan_matching"},
        headers=suite.headers("ops-sun", "ops"),
    )

    events = suite.events()

    [submitted] = [event for event in events if event.type == "workflow.lender.submitted"]
    [decided] = [event for event in events if event.type == "workflow.lender.decided"]
    assert (submitted.data["lender"], submitted.data["decision"]) == ("齐鲁银行", None)
    assert (decided.data["decision"], decided.data["reason"], decided.data["approved_amount"]) == (
        "declined",
        "负债率过高",
        None,
    )
    assert suite.case(case["id"])["stage"] == "plan_matching"


def test_a_decline_can_close_the_case_as_lender_declined(suite: Any) -> None:
    case = _in_risk_review(suite)
    submission = _submit(suite, case)

    suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions/{submission['id']}/decision",
        json={"decision": "declined", "reason": "不符合准入"},
        headers=suite.headers("ops-sun", "ops"),
    )

    assert suite.case(case["id"])["stage"] == "lender_declined"


def test_a_case_outside_risk_review_cannot_be_submitted_to_a_lender(suite: Any) -> None:
    case = _in_pre_review(suite)

    response = suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions",
        json={"lender": "齐鲁银行", "lender_product": "房抵经营贷", "amount": 300000},
        headers=suite.headers("sales-zhang"),
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "case_not_in_risk_review"
