"""A partner's lead from first event to 方案匹配, all from events: assigned by rule, submitted, sent back for
补充材料 with a supplement task, the document uploaded and the application resubmitted, approved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from loanbridge.workflow.domain import processes

API = "/api/workflow/v1"


def test_lead_to_plan_matching_through_a_supplement_all_from_events(
    suite: Any, sales_team: list[str], fixed_clock: Any
) -> None:
    suite.rule(name="临沂车抵", condition={"cities": ["临沂"], "products": ["car"]}, strategy="round_robin",
               team_id=suite.team_id)  # fmt: skip
    case = suite.partner_lead(city="临沂", product="car")
    owner = case["assignee_id"]
    suite.deliver(suite.followup(case, user_id=owner))
    suite.deliver(suite.submitted(case))
    fixed_clock.advance(timedelta(minutes=5))
    suite.deliver(suite.evaluation(case, "reject", hits=[{"rule_id": "docs", "reason": "补充材料", "inputs": {}}],
                                   missing_documents=["vehicle_license"]))  # fmt: skip
    supplement = next(task for task in suite.tasks(case["id"]) if task["kind"] == "supplement")
    fixed_clock.advance(timedelta(hours=2))
    suite.deliver(
        suite.event("intake.document.uploaded", {"lead_id": case["id"], "document_id": "d-9",
                                                 "doc_type": "vehicle_license"}, subject=case["id"]),
        suite.submitted(case, documents=("id_card", "vehicle_license")),
    )  # fmt: skip
    fixed_clock.advance(timedelta(minutes=5))
    suite.deliver(suite.evaluation(case, "approve"))

    stages = [(event.data["from_stage"], event.data["to_stage"]) for event in suite.events("workflow.stage.changed")]
    assert stages == [
        ("new", "assigned"),
        ("assigned", "pre_review"),
        ("pre_review", "assigned"),
        ("assigned", "pre_review"),
        ("pre_review", "plan_matching"),
    ]
    assert supplement["assignee_id"] == owner
    assert supplement["id"] in {task["id"] for task in suite.tasks(case["id"], status="done")}
    assert suite.case(case["id"])["documents"] == ["id_card", "vehicle_license"]
    kinds = [
        task["kind"] for status in ("open", "done", "cancelled") for task in suite.tasks(case["id"], status=status)
    ]
    assert kinds.count("first_contact") == 1


def test_a_stage_that_requires_documents_cannot_be_entered_without_them(suite: Any) -> None:
    definition = processes.default_definition()
    for stage in definition["stages"]:
        if stage["key"] == "pre_review":
            stage["required_documents"] = ["id_card", "credit_report"]
    admin = suite.admin()
    suite.client.post(f"{API}/processes", json={"product": "credit", "definition": definition}, headers=admin)
    suite.client.post(f"{API}/processes/credit/versions/2/publish", headers=admin)
    case = suite.lead(submitted_by="sales-zhang", product="credit")
    suite.deliver(suite.event("intake.document.uploaded", {"lead_id": case["id"], "document_id": "d-1",
                                                           "doc_type": "id_card"}, subject=case["id"]))  # fmt: skip

    response = suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": "pre_review"},
                                 headers=suite.headers("sales-zhang"))  # fmt: skip

    assert response.status_code == 409
    assert response.get_json()["details"] == {"rule": "pre_review.required_documents",
                                              "missing_documents": ["credit_report"]}  # fmt: skip
