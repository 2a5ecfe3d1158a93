"""Process definitions: the default lifecycle per product, the published schema, drafts validated at save time
(zen-engine expressions included), publication, and open cases keeping their version."""

from __future__ import annotations

import copy
from typing import Any

from loanbridge.workflow.domain import processes

API = "/api/workflow/v1"


def test_house_credit_and_car_share_the_default_lifecycle(suite: Any) -> None:
    for product in ("house", "credit", "car"):
        response = suite.client.get(f"{API}/processes/{product}/published", headers=suite.admin())

        assert response.status_code == 200
        body = response.get_json()
        assert (body["version"], body["status"]) == (1, "published")
        stages = [stage["key"] for stage in body["definition"]["stages"]]
        assert stages[:9] == ["new", "assigned", "pre_review", "plan_matching", "risk_review", "contract",
                              "disbursed", "post_loan", "settled"]  # fmt: skip
        assert {"rejected", "lender_declined", "lost"} <= set(stages)


def test_the_default_definition_passes_its_own_schema() -> None:
    assert processes.problems(processes.default_definition()) == {}


def test_the_service_publishes_the_schema_definitions_are_checked_against(suite: Any) -> None:
    response = suite.client.get(f"{API}/processes/schema", headers=suite.headers("sales-zhang"))

    assert response.status_code == 200
    assert response.get_json()["required"] == ["name", "initial_stage", "stages", "transitions"]


def _with_condition(condition: str) -> dict[str, Any]:
    definition = copy.deepcopy(processes.default_definition())
    for transition in definition["transitions"]:
        if transition["id"] == "submit_to_risk_review":
            transition["condition"] = condition
    return definition


def test_a_draft_with_an_expression_zen_cannot_parse_is_refused_naming_the_transition(suite: Any) -> None:
    response = suite.client.post(
        f"{API}/processes", json={"product": "house", "definition": _with_condition("amount >")}, headers=suite.admin()
    )

    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid_process_definition"
    assert list(body["details"]["fields"]) == ["transitions.submit_to_risk_review.condition"]


def test_a_transition_to_an_unknown_stage_is_refused(suite: Any) -> None:
    definition = copy.deepcopy(processes.default_definition())
    definition["transitions"][0]["to"] = "nowhere"

    response = suite.client.post(f"{API}/processes", json={"product": "car", "definition": definition},
                                 headers=suite.admin())  # fmt: skip

    assert response.status_code == 422
    assert "transitions.assign" in response.get_json()["details"]["fields"]


def test_only_admins_draft_processes(suite: Any) -> None:
    body = {"product": "house", "definition": processes.default_definition()}

    response = suite.client.post(f"{API}/processes", json=body, headers=suite.manager())

    assert response.status_code == 403


def test_a_published_version_runs_new_cases_while_open_cases_keep_theirs(suite: Any) -> None:
    before = suite.lead(product="credit")
    draft = suite.client.post(
        f"{API}/processes", json={"product": "credit", "definition": _with_condition("amount > 0")},
        headers=suite.admin(),
    )  # fmt: skip
    assert draft.status_code == 201 and draft.get_json()["version"] == 2
    assert suite.client.post(f"{API}/processes/credit/versions/2/validate", headers=suite.admin()).get_json() == {
        "valid": True,
        "errors": {},
    }

    published = suite.client.post(f"{API}/processes/credit/versions/2/publish", headers=suite.admin())
    after = suite.lead(product="credit")

    assert published.get_json()["status"] == "published"
    assert suite.client.get(f"{API}/processes/credit/versions/1", headers=suite.admin()).get_json()["status"] == (
        "retired"
    )
    assert (before["process_version"], after["process_version"]) == (1, 2)


def test_a_published_version_cannot_be_edited(suite: Any) -> None:
    response = suite.client.put(
        f"{API}/processes/house/versions/1", json={"definition": processes.default_definition()}, headers=suite.admin()
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "process_not_draft"
