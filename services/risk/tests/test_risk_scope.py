"""Who reads a customer's grade and evaluations: risk's own copy of workflow's owners (the newer event wins) and of
identity's staff teams, and the scope of each role over it (outside it, 404 as if the customer did not exist)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.testing import harness
from loanbridge.risk import orm

API = "/api/risk/v1"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TEAM_A, TEAM_B = "team-jinan-1", "team-qingdao-1"


def workflow_event(event_type: str, data: dict[str, Any], *, at: datetime, sequence: int = 1) -> Envelope:
    """A workflow event about a case, as workflow's outbox writes it (subject: the case)."""
    return Envelope.new(
        source=event_type.split(".", 1)[0],
        event_type=event_type,
        subject=data.get("case_id") or data.get("user_id") or "x",
        sequence=sequence,
        data=data,
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
        actor="system:test",
        occurred_at=at,
    )


def assigned(case_id: str, customer_id: str, assignee_id: str, team_id: str | None) -> dict[str, Any]:
    return {"case_id": case_id, "customer_id": customer_id, "assignee_id": assignee_id,
            "previous_assignee_id": None, "team_id": team_id, "rule_id": "staff_entered",
            "reason": "staff_entered", "conflict_with": None}  # fmt: skip


def recycled(case_id: str, customer_id: str, from_owner: str) -> dict[str, Any]:
    return {"case_id": case_id, "customer_id": customer_id, "from_owner": from_owner, "to_owner": None,
            "reason": "not_followed_up"}  # fmt: skip


def claimed(case_id: str, customer_id: str, to_owner: str, team_id: str | None) -> dict[str, Any]:
    return {"case_id": case_id, "customer_id": customer_id, "from_owner": None, "to_owner": to_owner,
            "team_id": team_id, "reason": "公海领取"}  # fmt: skip


def staff_user(user_id: str, team_id: str | None) -> dict[str, Any]:
    return {"user_id": user_id, "display_name": "张三", "roles": ["sales"], "team_id": team_id, "region": None,
            "products": [], "active": True}  # fmt: skip


def owner_of(risk: Any, customer_id: str) -> tuple[str | None, str | None]:
    with risk.runtime.database.session() as session:
        row = orm.customer_owner(session, customer_id)
    return (row.owner_id, row.team_id) if row is not None else ("unknown", None)


@pytest.fixture
def evaluation(submit: Any, submission: Any, evaluated: Any) -> dict[str, Any]:
    """A stored evaluation (and grade) of a customer that nobody owns yet."""
    return evaluated(submit(submission())[1])


@pytest.fixture
def owned(risk: Any, evaluation: dict[str, Any]) -> dict[str, Any]:
    """The evaluated customer, owned by sales-zhang of team A."""
    event = assigned(evaluation["lead_id"], evaluation["customer_id"], "sales-zhang", TEAM_A)
    harness.deliver([workflow_event("workflow.case.assigned", event, at=T0)], risk.runtime)
    return evaluation


def status(client: Any, path: str, headers: dict[str, str]) -> int:
    return int(client.get(f"{API}{path}", headers=headers).status_code)


def test_the_newer_owner_event_wins_and_an_older_one_arriving_late_changes_nothing(risk: Any) -> None:
    customer_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
    later = workflow_event("workflow.case.assigned", assigned(case_id, customer_id, "sales-li", TEAM_B),
                           at=T0 + timedelta(hours=2), sequence=2)  # fmt: skip
    earlier = workflow_event("workflow.case.assigned", assigned(case_id, customer_id, "sales-zhang", TEAM_A), at=T0)
    older_claim = workflow_event("workflow.case.claimed", claimed(case_id, customer_id, "sales-wu", TEAM_A),
                                 at=T0 + timedelta(hours=1))  # fmt: skip
    newest_recycle = workflow_event("workflow.case.recycled", recycled(case_id, customer_id, "sales-li"),
                                    at=T0 + timedelta(hours=3), sequence=3)  # fmt: skip

    harness.deliver([later, earlier, older_claim], risk.runtime)
    after_reordering = owner_of(risk, customer_id)
    harness.deliver([newest_recycle], risk.runtime)
    in_pool = owner_of(risk, customer_id)
    harness.deliver([later], risk.runtime)  # redelivered: the inbox skips it
    resync = workflow_event("workflow.case.assigned", assigned(case_id, customer_id, "sales-li", TEAM_B),
                            at=T0 + timedelta(hours=1), sequence=9)  # fmt: skip
    harness.deliver([resync], risk.runtime)  # older business time than the recycle: nothing changes

    assert after_reordering == ("sales-li", TEAM_B)
    assert in_pool == (None, None) == owner_of(risk, customer_id)


def test_events_of_one_case_at_the_same_instant_are_ordered_by_its_sequence(risk: Any) -> None:
    customer_id, case_id = str(uuid.uuid4()), str(uuid.uuid4())
    first = workflow_event("workflow.case.assigned", assigned(case_id, customer_id, "sales-zhang", TEAM_A), at=T0)
    second = workflow_event("workflow.case.recycled", recycled(case_id, customer_id, "sales-zhang"), at=T0, sequence=2)

    harness.deliver([second, first], risk.runtime)

    assert owner_of(risk, customer_id) == (None, None)


def test_a_salesperson_reads_the_grade_of_a_customer_they_own_and_no_other(
    client: Any, tokens: Any, owned: dict[str, Any]
) -> None:
    path = f"/grades/{owned['customer_id']}"
    owner = tokens.header(subject="sales-zhang", roles=["sales"], team_id=TEAM_A)
    colleague = tokens.header(subject="sales-wu", roles=["sales"], team_id=TEAM_A)

    denied = client.get(f"{API}{path}", headers=colleague)

    assert status(client, path, owner) == 200
    assert (denied.status_code, denied.get_json()["code"]) == (404, "not_found")
    assert owned["customer_id"] not in denied.get_data(as_text=True)


def test_salespeople_and_partners_still_read_no_evaluations(client: Any, tokens: Any, owned: dict[str, Any]) -> None:
    owner = tokens.header(subject="sales-zhang", roles=["sales"], team_id=TEAM_A)
    partner = tokens.header(subject="p", roles=["partner"], partner_id="partner-a")

    assert status(client, f"/evaluations/{owned['evaluation_id']}", owner) == 403
    assert status(client, f"/grades/{owned['customer_id']}", partner) == 403
    assert status(client, "/evaluations", partner) == 403


def test_a_manager_reads_the_grade_and_evaluations_of_customers_owned_within_their_teams_only(
    client: Any, tokens: Any, owned: dict[str, Any]
) -> None:
    mine = tokens.header(subject="mgr-zhao", roles=["manager"], team_id=TEAM_A, managed_team_ids=[TEAM_A])
    other = tokens.header(subject="mgr-qian", roles=["manager"], team_id=TEAM_B, managed_team_ids=[TEAM_B])

    listed = {name: client.get(f"{API}/evaluations", headers=header).get_json()["items"]
              for name, header in (("mine", mine), ("other", other))}  # fmt: skip

    assert status(client, f"/grades/{owned['customer_id']}", mine) == 200
    assert status(client, f"/evaluations/{owned['evaluation_id']}", mine) == 200
    assert status(client, f"/grades/{owned['customer_id']}", other) == 404
    assert status(client, f"/evaluations/{owned['evaluation_id']}", other) == 404
    assert [item["id"] for item in listed["mine"]] == [owned["evaluation_id"]]
    assert listed["other"] == []


def test_a_manager_sees_what_a_member_of_their_team_owns_when_the_owner_event_named_no_team(
    risk: Any, client: Any, tokens: Any, evaluation: dict[str, Any]
) -> None:
    manager = tokens.header(subject="mgr-zhao", roles=["manager"], team_id=TEAM_A, managed_team_ids=[TEAM_A])
    event = assigned(evaluation["lead_id"], evaluation["customer_id"], "sales-zhang", None)
    harness.deliver([workflow_event("workflow.case.assigned", event, at=T0)], risk.runtime)
    before = status(client, f"/evaluations/{evaluation['evaluation_id']}", manager)

    harness.deliver([workflow_event("identity.user.created", staff_user("sales-zhang", TEAM_A), at=T0)], risk.runtime)
    listed = client.get(f"{API}/evaluations", headers=manager).get_json()["items"]
    moved = staff_user("sales-zhang", TEAM_B)
    harness.deliver([workflow_event("identity.user.updated", moved, at=T0 + timedelta(days=1), sequence=2)],
                    risk.runtime)  # fmt: skip

    assert before == 404
    assert [item["id"] for item in listed] == [evaluation["evaluation_id"]]
    assert status(client, f"/grades/{evaluation['customer_id']}", manager) == 404


def test_a_customer_in_the_public_pool_is_read_by_managers_but_no_longer_by_the_salesperson_who_lost_them(
    risk: Any, client: Any, tokens: Any, owned: dict[str, Any]
) -> None:
    event = recycled(owned["lead_id"], owned["customer_id"], "sales-zhang")
    harness.deliver([workflow_event("workflow.case.recycled", event, at=T0 + timedelta(days=8), sequence=2)],
                    risk.runtime)  # fmt: skip
    former = tokens.header(subject="sales-zhang", roles=["sales"], team_id=TEAM_A)
    any_manager = tokens.header(subject="mgr-qian", roles=["manager"], team_id=TEAM_B, managed_team_ids=[TEAM_B])
    pool_claim = claimed(owned["lead_id"], owned["customer_id"], "sales-li", TEAM_B)

    in_pool = (status(client, f"/grades/{owned['customer_id']}", former),
               status(client, f"/evaluations/{owned['evaluation_id']}", any_manager))  # fmt: skip
    harness.deliver([workflow_event("workflow.case.claimed", pool_claim, at=T0 + timedelta(days=9), sequence=3)],
                    risk.runtime)  # fmt: skip
    claimer = tokens.header(subject="sales-li", roles=["sales"], team_id=TEAM_B)

    assert in_pool == (404, 200)
    assert status(client, f"/grades/{owned['customer_id']}", claimer) == 200
    assert status(client, f"/grades/{owned['customer_id']}", former) == 404


@pytest.mark.parametrize("role", ["admin", "ops", "risk_officer", "risk_director"])
def test_risk_roles_admin_and_ops_read_every_customers_grade_and_evaluations(
    client: Any, tokens: Any, owned: dict[str, Any], role: str
) -> None:
    header = tokens.header(subject=f"{role}-x", roles=[role], team_id=TEAM_B, managed_team_ids=[TEAM_B])

    listed = client.get(f"{API}/evaluations", headers=header).get_json()["items"]

    assert status(client, f"/grades/{owned['customer_id']}", header) == 200
    assert status(client, f"/evaluations/{owned['evaluation_id']}", header) == 200
    assert [item["id"] for item in listed] == [owned["evaluation_id"]]
