"""Component tests of what intake keeps from workflow's and risk's events (catalog-shaped envelopes delivered as
intake's queue would): the owner behind each duplicate outcome, the pool, stages, risk results and grades; older
events change nothing, redelivered ones are skipped, and events about unknown leads wait (NotYet)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.tables import inbox
from loanbridge.common.testing import harness

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
EventBuilder = Callable[..., Envelope]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def post_lead(client: Any, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{API}/leads", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def customer(client: Any, admin_headers: dict[str, str]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The customer 360 of a lead's customer, as an admin reads it."""

    def read(lead: dict[str, Any]) -> dict[str, Any]:
        response = client.get(f"{API}/customers/{lead['customer_id']}", headers=admin_headers)
        assert response.status_code == 200
        return response.get_json()

    return read


def recycled(new_event: EventBuilder, lead: dict[str, Any], *, sequence: int, occurred_at: datetime) -> Envelope:
    data = {"case_id": lead["id"], "customer_id": lead["customer_id"], "from_owner": "sales-zhang", "to_owner": None,
            "reason": "超过 15 天未跟进,退回公海"}  # fmt: skip
    return new_event("workflow.case.recycled", data, sequence=sequence, occurred_at=occurred_at)


def claimed(
    new_event: EventBuilder, lead: dict[str, Any], to_owner: str, *, sequence: int, occurred_at: datetime
) -> Envelope:
    data = {"case_id": lead["id"], "customer_id": lead["customer_id"], "from_owner": None, "to_owner": to_owner,
            "reason": "从公海领取"}  # fmt: skip
    return new_event("workflow.case.claimed", data, sequence=sequence, occurred_at=occurred_at)


def stage(new_event: EventBuilder, lead: dict[str, Any], from_stage: str, to_stage: str, *, sequence: int,
          occurred_at: datetime) -> Envelope:  # fmt: skip
    data = {"case_id": lead["id"], "customer_id": lead["customer_id"], "from_stage": from_stage, "to_stage": to_stage,
            "actor": "sales-zhang", "reason": None}  # fmt: skip
    return new_event("workflow.stage.changed", data, sequence=sequence, occurred_at=occurred_at)


def evaluation(new_event: EventBuilder, lead: dict[str, Any], *, decision: str, score: int, grade: str,
               occurred_at: datetime, sequence: int = 1) -> Envelope:  # fmt: skip
    data = {
        "evaluation_id": f"eval-{score}",
        "lead_id": lead["id"],
        "customer_id": lead["customer_id"],
        "ruleset_version": 3,
        "score": score,
        "grade": grade,
        "decision": decision,
        "route_to": "risk_director" if decision == "review" else None,
        "flags": ["high_debt_ratio"] if decision != "approve" else [],
        "hits": [{"rule_id": "debt_ratio_over_70", "inputs": {"debt_ratio": 0.72}, "reason": "负债率超过 70%"}],
        "missing_documents": ["bank_statement"],
        "missing_fields": [],
    }
    return new_event("risk.evaluation.completed", data, subject=data["evaluation_id"], sequence=sequence,
                     occurred_at=occurred_at)  # fmt: skip


def graded(new_event: EventBuilder, lead: dict[str, Any], grade: str, previous: str | None, *, occurred_at: datetime,
           sequence: int = 1) -> Envelope:  # fmt: skip
    data = {"customer_id": lead["customer_id"], "lead_id": lead["id"], "grade": grade, "previous_grade": previous,
            "reasons": ["近 3 个月征信查询 2 次"]}  # fmt: skip
    return new_event("risk.customer.graded", data, sequence=sequence, occurred_at=occurred_at)


# --- ownership and the duplicate outcome ----------------------------------------------------------------------------
def test_case_assigned_makes_the_owner_and_later_leads_are_told_own_customer_or_owned_by_other(
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    partner: dict[str, Any],
    new_lead: LeadBuilder,
    assign_case: Callable[..., list[Outcome]],
    customer: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    first = post_lead(client, sales_headers, new_lead(channel="douyin"))

    outcomes = assign_case(first, "sales-zhang", "team-jinan-1", occurred_at=at(1))

    assert outcomes == [Outcome.APPLIED]
    person = customer(first)
    assert (person["owner_id"], person["owner_team_id"]) == ("sales-zhang", "team-jinan-1")
    assert person["leads"][0]["assignee_id"] == "sales-zhang"
    by_other = post_lead(client, other_sales_headers, new_lead(channel="baidu"))
    by_owner = post_lead(client, sales_headers, new_lead(channel="baidu", product="credit", form={}))
    by_partner = post_lead(client, partner["headers"], new_lead(external_ref="RT-1"))
    assert first["duplicate_outcome"] == "new_customer"
    assert by_other["duplicate_outcome"] == "owned_by_other"
    assert by_owner["duplicate_outcome"] == "own_customer"
    assert by_partner["duplicate_outcome"] == "owned_by_other"
    assert {by_other["customer_id"], by_owner["customer_id"], by_partner["customer_id"]} == {first["customer_id"]}


def test_recycling_puts_the_customer_back_in_the_pool_and_claiming_gives_it_a_new_owner(
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    new_event: EventBuilder,
    intake: harness.ServiceUnderTest,
    assign_case: Callable[..., list[Outcome]],
    customer: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    first = post_lead(client, sales_headers, new_lead(channel="douyin"))
    assign_case(first, "sales-zhang", "team-jinan-1", occurred_at=at(1))

    harness.deliver([recycled(new_event, first, sequence=2, occurred_at=at(2))], intake.runtime)

    pooled = customer(first)
    assert (pooled["owner_id"], pooled["owner_team_id"]) == (None, None)
    assert pooled["leads"][0]["assignee_id"] is None
    in_pool = post_lead(client, other_sales_headers, new_lead(channel="baidu"))
    assert in_pool["duplicate_outcome"] == "pool_customer"

    harness.deliver([claimed(new_event, first, "sales-li", sequence=3, occurred_at=at(3))], intake.runtime)

    assert customer(first)["owner_id"] == "sales-li"
    assert post_lead(client, other_sales_headers, new_lead(channel="baidu"))["duplicate_outcome"] == "own_customer"
    assert post_lead(client, sales_headers, new_lead(channel="baidu"))["duplicate_outcome"] == "owned_by_other"


def test_a_manager_keeps_seeing_a_customer_a_member_of_their_team_claimed_from_the_pool(
    client: Any,
    tokens: harness.TokenFactory,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    new_event: EventBuilder,
    intake: harness.ServiceUnderTest,
    assign_case: Callable[..., list[Outcome]],
) -> None:
    member = "6f1c2d3e-0000-4000-8000-00000000000a"
    team = "6f1c2d3e-0000-4000-8000-0000000000aa"
    user = {"user_id": member, "display_name": "周敏", "roles": ["sales"], "team_id": team, "region": "济南",
            "products": ["house"], "active": True}  # fmt: skip
    harness.deliver([new_event("identity.user.created", user, occurred_at=at(0))], intake.runtime)
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))
    assign_case(lead, "sales-zhang", "team-jinan-1", occurred_at=at(1))
    harness.deliver([recycled(new_event, lead, sequence=2, occurred_at=at(2))], intake.runtime)
    # workflow.case.claimed names the new owner, not their team: intake knows the team from identity's events.
    harness.deliver([claimed(new_event, lead, member, sequence=3, occurred_at=at(3))], intake.runtime)
    manager = tokens.header(subject="mgr-zhou", roles=["manager"], managed_team_ids=[team])
    other_manager = tokens.header(subject="mgr-wang", roles=["manager"], managed_team_ids=["team-jinan-1"])

    read = client.get(f"{API}/customers/{lead['customer_id']}", headers=manager)
    listed = client.get(f"{API}/customers", headers=manager).get_json()

    assert read.status_code == 200
    assert (read.get_json()["owner_id"], read.get_json()["owner_team_id"]) == (member, team)
    assert [item["id"] for item in listed["items"]] == [lead["customer_id"]]
    assert client.get(f"{API}/customers/{lead['customer_id']}", headers=other_manager).status_code == 404


# --- order and redelivery -------------------------------------------------------------------------------------------
def test_an_older_event_delivered_after_a_newer_one_changes_nothing(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    new_event: EventBuilder,
    intake: harness.ServiceUnderTest,
    assign_case: Callable[..., list[Outcome]],
    customer: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))

    assign_case(lead, "sales-zhang", "team-jinan-1", sequence=3, occurred_at=at(30))
    late = [
        recycled(new_event, lead, sequence=2, occurred_at=at(20)),
        stage(new_event, lead, "assigned", "pre_review", sequence=5, occurred_at=at(50)),
        stage(new_event, lead, "new", "assigned", sequence=4, occurred_at=at(40)),
        evaluation(new_event, lead, decision="review", score=61, grade="B", occurred_at=at(60)),
        evaluation(new_event, lead, decision="reject", score=35, grade="C", occurred_at=at(45)),
        graded(new_event, lead, "B", "A", occurred_at=at(70), sequence=2),
        graded(new_event, lead, "A", None, occurred_at=at(65), sequence=1),
    ]
    outcomes = harness.deliver(late, intake.runtime)

    assert outcomes == [Outcome.APPLIED] * len(late)  # applied (and recorded), but older facts lose
    person = customer(lead)
    assert person["owner_id"] == "sales-zhang"
    assert person["grade"] == "B"
    [only] = person["leads"]
    assert only["stage"] == "pre_review"
    assert (only["evaluation"]["decision"], only["evaluation"]["score"]) == ("review", 61)


def test_the_same_event_delivered_twice_has_one_effect(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    new_event: EventBuilder,
    intake: harness.ServiceUnderTest,
    customer: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))
    assigned = new_event(
        "workflow.case.assigned",
        {"case_id": lead["id"], "customer_id": lead["customer_id"], "assignee_id": "sales-zhang",
         "team_id": "team-jinan-1", "rule_id": "r1", "reason": "staff_entered"},
        occurred_at=at(1),
    )  # fmt: skip
    pooled = recycled(new_event, lead, sequence=2, occurred_at=at(2))

    first = harness.deliver([assigned, pooled], intake.runtime)
    again = harness.deliver([assigned, pooled], intake.runtime)

    assert first == [Outcome.APPLIED, Outcome.APPLIED]
    assert again == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert customer(lead)["owner_id"] is None
    with intake.runtime.database.session() as session:
        assert session.execute(sa.select(inbox.c.event_id).order_by(inbox.c.event_id)).scalars().all() == sorted(
            [assigned.id, pooled.id]
        )


# --- the 360 --------------------------------------------------------------------------------------------------------
def test_stage_risk_result_and_grade_show_in_the_360(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    new_event: EventBuilder,
    intake: harness.ServiceUnderTest,
    customer: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    lead = post_lead(client, sales_headers, new_lead(channel="douyin"))
    events = [
        stage(new_event, lead, "new", "assigned", sequence=1, occurred_at=at(1)),
        stage(new_event, lead, "assigned", "pre_review", sequence=2, occurred_at=at(2)),
        evaluation(new_event, lead, decision="review", score=61, grade="B", occurred_at=at(3)),
        graded(new_event, lead, "B", None, occurred_at=at(4)),
    ]

    assert harness.deliver(events, intake.runtime) == [Outcome.APPLIED] * 4

    person = customer(lead)
    assert person["grade"] == "B"
    [only] = person["leads"]
    assert only["stage"] == "pre_review"
    assert only["evaluation"] == {
        "evaluation_id": "eval-61",
        "ruleset_version": 3,
        "score": 61,
        "grade": "B",
        "decision": "review",
        "route_to": "risk_director",
        "flags": ["high_debt_ratio"],
        "hits": [{"rule": "debt_ratio_over_70", "reason": "负债率超过 70%"}],
        "missing_documents": ["bank_statement"],
        "missing_fields": [],
        "evaluated_at": "2026-03-02T01:03:00Z",
    }
    by_grade = client.get(f"{API}/customers?grade=B", headers=sales_headers).get_json()
    by_stage = client.get(f"{API}/customers?stage=pre_review", headers=sales_headers).get_json()
    assert [item["id"] for item in by_grade["items"]] == [lead["customer_id"]]
    assert [item["id"] for item in by_stage["items"]] == [lead["customer_id"]]
    assert client.get(f"{API}/customers?grade=A", headers=sales_headers).get_json()["items"] == []


# --- events ahead of what intake knows ------------------------------------------------------------------------------
UNKNOWN = {"id": "00000000-0000-4000-8000-000000000001", "customer_id": "00000000-0000-4000-8000-000000000002"}


@pytest.mark.parametrize(
    "build",
    [
        lambda new_event: new_event(
            "workflow.case.assigned",
            {
                "case_id": UNKNOWN["id"],
                "customer_id": UNKNOWN["customer_id"],
                "assignee_id": "sales-zhang",
                "team_id": "team-jinan-1",
                "rule_id": "r1",
                "reason": "partner_rule",
            },
        ),
        lambda new_event: recycled(new_event, UNKNOWN, sequence=1, occurred_at=at(1)),
        lambda new_event: claimed(new_event, UNKNOWN, "sales-li", sequence=1, occurred_at=at(1)),
        lambda new_event: stage(new_event, UNKNOWN, "new", "assigned", sequence=1, occurred_at=at(1)),
        lambda new_event: evaluation(new_event, UNKNOWN, decision="approve", score=90, grade="A", occurred_at=at(1)),
        lambda new_event: graded(new_event, UNKNOWN, "A", None, occurred_at=at(1)),
    ],
    ids=["case_assigned", "case_recycled", "case_claimed", "stage_changed", "evaluation_completed", "customer_graded"],
)
def test_an_event_about_an_unknown_lead_or_customer_raises_not_yet_and_is_not_recorded(
    intake: harness.ServiceUnderTest, new_event: EventBuilder, build: Callable[[EventBuilder], Envelope]
) -> None:
    event = build(new_event)

    with pytest.raises(NotYet):
        harness.deliver([event], intake.runtime)
    with pytest.raises(NotYet):  # retried later: still waiting, not skipped as a duplicate
        harness.deliver([event], intake.runtime)

    with intake.runtime.database.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(inbox)).scalar_one() == 0
