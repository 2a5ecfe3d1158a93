"""What workflow publishes is what docs/events/ documents: every workflow event type is produced by driving the
service through events and its API, and each event written to the outbox passes its JSON Schema."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.events.catalog import PUBLISHED
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.schemas import repository_root, validate_data

API = "/api/workflow/v1"
ROOT = repository_root(Path(__file__))
WORKFLOW_TYPES = {event_type for event_type in PUBLISHED if event_type.startswith("workflow.")}


def _drive(suite: Any, fixed_clock: Any, run_timers: Any) -> list[Envelope]:
    suite.team()
    suite.user("mgr-wang", roles=("manager",))
    for member in ("sales-a", "sales-b"):
        suite.user(member)
    suite.rule(name="轮询", strategy="round_robin", team_id=suite.team_id)
    case = suite.lead(submitted_by="sales-a", amount=88000.5)
    duplicate = suite.lead(submitted_by="sales-b", customer_id=case["customer_id"])
    partner = suite.partner_lead(city="临沂", product="car")
    suite.client.post(f"{API}/cases/{partner['id']}/assignment", json={"assignee_id": "sales-b"},
                      headers=suite.manager())  # fmt: skip
    fixed_clock.advance(timedelta(hours=3, minutes=30))  # past the first contact's reminder, before it is due
    run_timers()
    suite.deliver(suite.submitted(case))
    suite.deliver(suite.evaluation(case, "reject", hits=[{"rule_id": "r", "reason": "补充材料", "inputs": {}}],
                                   missing_documents=["credit_report"]))  # fmt: skip
    fixed_clock.advance(timedelta(minutes=1))
    suite.deliver(suite.submitted(case, documents=("id_card", "credit_report")))
    fixed_clock.advance(timedelta(minutes=1))
    suite.deliver(suite.evaluation(case, "review", route_to="risk_director"))
    headers = suite.headers("risk-qian", "risk_director")
    suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": "plan_matching"}, headers=headers)
    suite.client.post(f"{API}/cases/{case['id']}/transitions", json={"to": "risk_review"},
                      headers=suite.headers("sales-a"))  # fmt: skip
    submission = suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions",
        json={"lender": "齐鲁银行", "lender_product": "房抵经营贷", "amount": 88000.5},
        headers=suite.headers("sales-a"),
    ).get_json()
    suite.client.post(
        f"{API}/cases/{case['id']}/lender-submissions/{submission['id']}/decision",
        json={"decision": "approved", "approved_amount": 80000}, headers=suite.headers("ops-sun", "ops"),
    )  # fmt: skip
    ops = suite.headers("ops-sun", "ops")
    terms = {
        "lender": "齐鲁银行",
        "lender_product": "房抵经营贷",
        "principal": 80000,
        "annual_rate": 0.0435,
        "term_months": 2,
        "commission": 1200.5,
        "method": "equal_installment",
        "first_due_date": "2026-12-01",
    }
    loan = suite.client.post(f"{API}/cases/{case['id']}/loans", json=terms, headers=ops).get_json()
    suite.deliver(suite.followup(duplicate, user_id="sales-a", next_followup_at="2026-12-02T02:00:00Z"))
    fixed_clock.advance(timedelta(days=16))
    run_timers()
    suite.client.post(f"{API}/pool/{partner['id']}/claim", headers=suite.headers("sales-a"))
    finance = suite.headers("finance-system", "service")
    for line in loan["schedule"]:
        body = {"reference": f"TXN-{line['installment']}", "installment": line["installment"],
                "amount": line["amount"], "paid_at": "2026-12-16T02:00:00Z"}  # fmt: skip
        suite.client.post(f"{API}/loans/{loan['id']}/repayments", json=body, headers=finance)
    return suite.events()


@pytest.fixture
def published(suite: Any, fixed_clock: Any, run_timers: Any) -> list[Envelope]:
    return _drive(suite, fixed_clock, run_timers)


def test_every_event_workflow_publishes_matches_its_documented_schema(published: list[Envelope]) -> None:
    errors = [error for event in published for error in validate_data(event, ROOT)]

    assert errors == [], "\n".join(errors)


def test_the_drive_publishes_every_workflow_type_listed_as_published(published: list[Envelope]) -> None:
    assert {event.type for event in published} == WORKFLOW_TYPES


def test_nullable_fields_are_seen_both_null_and_set(published: list[Envelope]) -> None:
    assigned = [event.data for event in published if event.type == "workflow.case.assigned"]
    tasks = [event.data for event in published if event.type.startswith("workflow.task.")]

    assert {item["conflict_with"] is None for item in assigned} == {True, False}
    assert {item["previous_assignee_id"] is None for item in assigned} == {True, False}
    assert {item["assignee_id"] is None for item in tasks} == {True, False}
