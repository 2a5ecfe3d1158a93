"""Fixtures of reporting's component tests: reporting and intake on SQLite in tmp_path, both trusting one
TokenFactory, with intake's events moved to reporting by draining the outbox (no broker)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.clock import isoformat
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.testing import harness


@pytest.fixture(scope="session")
def tokens() -> harness.TokenFactory:
    return harness.TokenFactory()


@pytest.fixture
def suite_env(tmp_path: Path) -> dict[str, str]:
    return harness.environment_for_tests(tmp_path)


@pytest.fixture
def reporting(suite_env: dict[str, str], tokens: harness.TokenFactory) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("reporting", suite_env, tokens=tokens)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def intake(suite_env: dict[str, str], tokens: harness.TokenFactory) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("intake", suite_env, tokens=tokens)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def admin_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="admin-1", roles=["admin"])


@pytest.fixture
def manager_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="manager-zhao", roles=["manager"], managed_team_ids=["team-jinan-1"])


@pytest.fixture
def sales_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="sales-zhang", roles=["sales"], team_id="team-jinan-1")


@pytest.fixture
def submit_lead(intake: harness.ServiceUnderTest, tokens: harness.TokenFactory) -> Callable[..., dict[str, Any]]:
    """A salesperson submits a lead to intake; each call is a different person unless ``mobile`` is given.

    The token is minted at each call, so that a lead submitted under a FixedClock carries a token valid then.
    """
    client = intake.client()
    numbers = iter(range(10_000))

    def submit(**fields: Any) -> dict[str, Any]:
        body = {
            "name": "王五",
            "mobile": f"1390531{next(numbers):04d}",
            "city": "济南",
            "product": "house",
            "amount": 300000,
            "term_months": 24,
            "channel": "douyin",
            **fields,
        }
        headers = tokens.header(subject="sales-zhang", roles=["sales"], team_id="team-jinan-1")
        response = client.post("/api/intake/v1/leads", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return submit


@pytest.fixture
def relay(
    intake: harness.ServiceUnderTest, reporting: harness.ServiceUnderTest
) -> Callable[[], list[tuple[Envelope, Outcome]]]:
    """Move intake's pending events to reporting; answers each event reporting subscribes to with its outcome."""

    def move() -> list[tuple[Envelope, Outcome]]:
        events = harness.drain_outbox(intake.runtime)
        subscribed = [event for event in events if event.routing_key in reporting.runtime.spec.subscriptions]
        return list(zip(subscribed, harness.deliver(events, reporting.runtime), strict=True))

    return move


def fixed_id(name: str) -> str:
    """A stable UUID for a name of the fixed event streams (L1, S3a, ...), as the schemas want uuids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"loanbridge-reporting-test/{name}"))


def shanghai(day: str, hour: int, minute: int = 0) -> datetime:
    """An instant given on the Shanghai wall clock (UTC+8, no daylight saving)."""
    year, month, date_ = (int(part) for part in day.split("-"))
    return datetime(year, month, date_, hour, minute, tzinfo=UTC) - timedelta(hours=8)


class EventStream:
    """Builds the events of a small firm in the shapes of docs/events/, each with its business time and the
    sequence of its aggregate (counted per subject, as the producers do)."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []
        self._sequences: dict[tuple[str, str], int] = {}

    def emit(self, source: str, event_type: str, subject: str, at: datetime, data: dict[str, Any]) -> Envelope:
        key = (source, subject)
        self._sequences[key] = self._sequences.get(key, 0) + 1
        event = Envelope.new(
            source=source,
            event_type=event_type,
            subject=subject,
            sequence=self._sequences[key],
            data=data,
            correlation_id=f"test-{len(self.events)}",
            causation_id=None,
            actor="test",
            occurred_at=at,
        )
        self.events.append(event)
        return event

    def user(self, name: str, display_name: str, team: str | None, at: datetime) -> None:
        user_id = fixed_id(name)
        self.emit(
            "identity",
            "identity.user.created",
            user_id,
            at,
            {
                "user_id": user_id,
                "display_name": display_name,
                "roles": ["sales"],
                "team_id": fixed_id(team) if team else None,
                "region": "济南",
                "products": ["house", "credit", "car"],
                "active": True,
            },
        )

    def team(self, name: str, team_name: str, manager: str, at: datetime) -> None:
        team_id = fixed_id(name)
        self.emit(
            "identity",
            "identity.team.created",
            team_id,
            at,
            {"team_id": team_id, "name": team_name, "manager_id": fixed_id(manager), "region": "济南"},
        )

    def lead(self, name: str, at: datetime, *, channel: str, product: str, city: str, by: str, amount: int) -> None:
        lead_id = fixed_id(name)
        self.emit(
            "intake",
            "intake.lead.created",
            lead_id,
            at,
            {
                "lead_id": lead_id,
                "customer_id": fixed_id(f"customer-{name}"),
                "product": product,
                "amount": amount,
                "term_months": 24,
                "purpose": None,
                "channel": channel,
                "partner_id": None,
                "city": city,
                "submitted_by": fixed_id(by),
                "duplicate_outcome": "new_customer",
                "features": {},
                "created_at": isoformat(at),
            },
        )

    def assigned(self, lead: str, to: str, team: str, at: datetime) -> None:
        self.emit(
            "workflow",
            "workflow.case.assigned",
            fixed_id(lead),
            at,
            {
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "assignee_id": fixed_id(to),
                "previous_assignee_id": None,
                "team_id": fixed_id(team),
                "rule_id": "staff_entered",
                "reason": "staff_entered",
                "conflict_with": None,
            },
        )

    def stage(self, lead: str, from_stage: str, to_stage: str, at: datetime) -> None:
        self.emit(
            "workflow",
            "workflow.stage.changed",
            fixed_id(lead),
            at,
            {
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "from_stage": from_stage,
                "to_stage": to_stage,
                "actor": "system",
                "reason": None,
            },
        )

    def submitted(self, lead: str, at: datetime, *, product: str, channel: str, amount: int) -> None:
        self.emit(
            "intake",
            "intake.application.submitted",
            fixed_id(lead),
            at,
            {
                "lead_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "product": product,
                "form_version": 1,
                "amount": amount,
                "term_months": 24,
                "channel": channel,
                "city": "济南",
                "features": {"age": 35, "blacklisted": False},
                "documents": ["id_card"],
                "required_documents": ["id_card"],
                "missing_fields": [],
            },
        )

    def evaluated(self, name: str, lead: str, decision: str, at: datetime, *, product: str) -> None:
        self.emit(
            "risk",
            "risk.evaluation.completed",
            fixed_id(lead),
            at,
            {
                "evaluation_id": fixed_id(name),
                "lead_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "product": product,
                "ruleset_version": 1,
                "decision": decision,
                "score": 80,
                "grade": "A",
                "route_to": "risk_director" if decision == "review" else None,
                "flags": [],
                "hits": [],
                "missing_documents": [],
                "missing_fields": [],
                "reasons": [],
                "supplement_required": False,
            },
        )

    def _submission(self, event_type: str, name: str, lead: str, at: datetime, **fields: Any) -> None:
        self.emit(
            "workflow",
            event_type,
            fixed_id(lead),
            at,
            {
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "submission_id": fixed_id(name),
                "lender": fields.get("lender", "齐鲁银行"),
                "lender_product": "房抵快贷",
                "amount": fields.get("amount", 300000),
                "decision": fields.get("decision"),
                "approved_amount": fields.get("approved_amount"),
                "reason": None,
            },
        )

    def lender_submitted(self, name: str, lead: str, at: datetime, **fields: Any) -> None:
        self._submission("workflow.lender.submitted", name, lead, at, **fields)

    def lender_decided(self, name: str, lead: str, decision: str, at: datetime, **fields: Any) -> None:
        self._submission("workflow.lender.decided", name, lead, at, decision=decision, **fields)

    def disbursed(self, name: str, lead: str, at: datetime, *, principal: int, commission: int) -> None:
        loan_id = fixed_id(name)
        self.emit(
            "workflow",
            "workflow.loan.disbursed",
            loan_id,
            at,
            {
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "loan_id": loan_id,
                "lender": "齐鲁银行",
                "lender_product": "房抵快贷",
                "principal": principal,
                "annual_rate": 0.12,
                "term_months": 12,
                "commission": commission,
                "method": "equal_principal",
                "disbursed_at": isoformat(at),
                "schedule": [
                    {
                        "installment": 1,
                        "due_date": "2026-04-09",
                        "principal": principal,
                        "interest": 0,
                        "amount": principal,
                    }
                ],
            },
        )

    def overdue(self, loan: str, lead: str, at: datetime, *, days: int, outstanding: int) -> None:
        self.emit(
            "workflow",
            "workflow.loan.overdue",
            fixed_id(loan),
            at,
            {
                "loan_id": fixed_id(loan),
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "installment": 1,
                "due_date": "2026-04-09",
                "days_past_due": days,
                "amount_due": 10000,
                "outstanding_principal": outstanding,
            },
        )

    def followup(self, lead: str, by: str, at: datetime) -> None:
        self.emit(
            "intake",
            "intake.followup.logged",
            fixed_id(lead),
            at,
            {
                "lead_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "user_id": fixed_id(by),
                "method": "call",
                "outcome": "reached",
                "intent_level": "B",
                "next_followup_at": None,
            },
        )

    def recycled(self, lead: str, owner: str, at: datetime) -> None:
        self.emit(
            "workflow",
            "workflow.case.recycled",
            fixed_id(lead),
            at,
            {
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "from_owner": fixed_id(owner),
                "to_owner": None,
                "reason": "超时未跟进",
            },
        )

    def task(self, event_type: str, name: str, lead: str, kind: str, at: datetime, *, to: str) -> None:
        self.emit(
            "workflow",
            f"workflow.task.{event_type}",
            fixed_id(name),
            at,
            {
                "task_id": fixed_id(name),
                "case_id": fixed_id(lead),
                "customer_id": fixed_id(f"customer-{lead}"),
                "assignee_id": None if kind == "review" else fixed_id(to),
                "assignee_role": to if kind == "review" else None,
                "kind": kind,
                "title": "首次联系客户" if kind == "first_contact" else "风控复核",
                "due_at": None,
                "escalate_to": None,
            },
        )

    def spend(self, channel: str, month: str, amount: int, at: datetime) -> None:
        self.emit(
            "intake",
            "intake.channel.spend_recorded",
            f"{channel}:{month}",
            at,
            {"channel": channel, "month": month, "amount": amount},
        )


def small_firm() -> EventStream:
    """The fixed stream the KPI tests compute by hand (docs/reporting.md walks through the same numbers).

    Teams T1 济南一组 (张三, 李四) and T2 青岛一组 (王五). Leads, all on the Shanghai clock:
    L1 2026-03-02 douyin/house 300000 by 张三, his; submitted 03-03, risk approve 03-04, lender S1 03-05,
       approved 03-06, loan N1 03-09 (principal 280000, commission 5600), later 35 days past due;
    L2 2026-03-02 douyin/credit 50000 by 张三, assigned to 李四; submitted 03-03, risk reject 03-04;
    L3 2026-03-03 baidu/house 500000 by 王五, his; submitted 03-04, risk review 03-05 then approve 03-06,
       lender S3a 03-09 declined 03-10, S3b 03-10 approved 03-11, loan N3 03-12 (450000, commission 13500),
       later 95 days past due;
    L4 2026-03-10 douyin/house 200000 by 李四, his; nothing more;
    L5 2026-02-27 douyin/house 100000 by 张三: outside March.
    Spend in March: douyin 31000 (1000 a day), baidu 62000 (2000 a day).
    Follow-ups: L1 twice (张三), L2 once (李四), L3 three times (王五). L4 went to the public pool on 20 March.
    Tasks: first_contact on each March lead, L2's and L4's overdue; a review of L3, overdue, then done.
    """
    s = EventStream()
    s.team("T1", "济南一组", "M1", shanghai("2026-01-05", 9))
    s.team("T2", "青岛一组", "M2", shanghai("2026-01-05", 9))
    s.user("zhang", "张三", "T1", shanghai("2026-01-05", 10))
    s.user("li", "李四", "T1", shanghai("2026-01-05", 10))
    s.user("wang", "王五", "T2", shanghai("2026-01-05", 10))
    s.spend("douyin", "2026-03", 31000, shanghai("2026-03-01", 9))
    s.spend("baidu", "2026-03", 62000, shanghai("2026-03-01", 9))

    s.lead("L5", shanghai("2026-02-27", 10), channel="douyin", product="house", city="济南", by="zhang", amount=100000)
    s.assigned("L5", "zhang", "T1", shanghai("2026-02-27", 10, 1))

    s.lead("L1", shanghai("2026-03-02", 10), channel="douyin", product="house", city="济南", by="zhang", amount=300000)
    s.assigned("L1", "zhang", "T1", shanghai("2026-03-02", 10))
    s.stage("L1", "new", "assigned", shanghai("2026-03-02", 10))
    s.submitted("L1", shanghai("2026-03-03", 10), product="house", channel="douyin", amount=300000)
    s.stage("L1", "assigned", "pre_review", shanghai("2026-03-03", 10))
    s.evaluated("E1", "L1", "approve", shanghai("2026-03-04", 10), product="house")
    s.stage("L1", "pre_review", "plan_matching", shanghai("2026-03-04", 10))
    s.stage("L1", "plan_matching", "risk_review", shanghai("2026-03-05", 10))
    s.lender_submitted("S1", "L1", shanghai("2026-03-05", 11))
    s.lender_decided("S1", "L1", "approved", shanghai("2026-03-06", 10), approved_amount=280000)
    s.stage("L1", "risk_review", "contract", shanghai("2026-03-06", 10))
    s.disbursed("N1", "L1", shanghai("2026-03-09", 10), principal=280000, commission=5600)
    s.stage("L1", "contract", "disbursed", shanghai("2026-03-09", 10))

    s.lead("L2", shanghai("2026-03-02", 12), channel="douyin", product="credit", city="济南", by="zhang", amount=50000)
    s.assigned("L2", "li", "T1", shanghai("2026-03-02", 12))
    s.stage("L2", "new", "assigned", shanghai("2026-03-02", 12))
    s.submitted("L2", shanghai("2026-03-03", 10), product="credit", channel="douyin", amount=50000)
    s.stage("L2", "assigned", "pre_review", shanghai("2026-03-03", 10))
    s.evaluated("E2", "L2", "reject", shanghai("2026-03-04", 12), product="credit")
    s.stage("L2", "pre_review", "rejected", shanghai("2026-03-04", 12))

    s.lead("L3", shanghai("2026-03-03", 10), channel="baidu", product="house", city="青岛", by="wang", amount=500000)
    s.assigned("L3", "wang", "T2", shanghai("2026-03-03", 10))
    s.stage("L3", "new", "assigned", shanghai("2026-03-03", 10))
    s.submitted("L3", shanghai("2026-03-04", 16), product="house", channel="baidu", amount=500000)
    s.stage("L3", "assigned", "pre_review", shanghai("2026-03-04", 16))
    s.evaluated("E3a", "L3", "review", shanghai("2026-03-05", 10), product="house")
    s.evaluated("E3b", "L3", "approve", shanghai("2026-03-06", 10), product="house")
    s.stage("L3", "pre_review", "plan_matching", shanghai("2026-03-06", 10))
    s.stage("L3", "plan_matching", "risk_review", shanghai("2026-03-09", 9))
    s.lender_submitted("S3a", "L3", shanghai("2026-03-09", 10), amount=500000)
    s.lender_decided("S3a", "L3", "declined", shanghai("2026-03-10", 10), amount=500000)
    s.lender_submitted("S3b", "L3", shanghai("2026-03-10", 11), lender="青岛银行", amount=500000)
    s.lender_decided(
        "S3b", "L3", "approved", shanghai("2026-03-11", 10), lender="青岛银行", amount=500000, approved_amount=450000
    )
    s.stage("L3", "risk_review", "contract", shanghai("2026-03-11", 10))
    s.disbursed("N3", "L3", shanghai("2026-03-12", 10), principal=450000, commission=13500)
    s.stage("L3", "contract", "disbursed", shanghai("2026-03-12", 10))

    s.lead("L4", shanghai("2026-03-10", 10), channel="douyin", product="house", city="济南", by="li", amount=200000)
    s.assigned("L4", "li", "T1", shanghai("2026-03-10", 10))
    s.stage("L4", "new", "assigned", shanghai("2026-03-10", 10))

    s.followup("L1", "zhang", shanghai("2026-03-02", 14))
    s.followup("L1", "zhang", shanghai("2026-03-03", 9))
    s.followup("L2", "li", shanghai("2026-03-02", 15))
    for hour in (11, 14, 17):
        s.followup("L3", "wang", shanghai("2026-03-03", hour))
    s.recycled("L4", "li", shanghai("2026-03-20", 9))
    s.task("created", "Ta", "L1", "first_contact", shanghai("2026-03-02", 10), to="zhang")
    s.task("completed", "Ta", "L1", "first_contact", shanghai("2026-03-02", 14), to="zhang")
    s.task("created", "Tb", "L2", "first_contact", shanghai("2026-03-02", 12), to="li")
    s.task("overdue", "Tb", "L2", "first_contact", shanghai("2026-03-02", 16), to="li")
    s.task("completed", "Tb", "L2", "first_contact", shanghai("2026-03-03", 9), to="li")
    s.task("created", "Tc", "L3", "first_contact", shanghai("2026-03-03", 10), to="wang")
    s.task("completed", "Tc", "L3", "first_contact", shanghai("2026-03-03", 11), to="wang")
    s.task("created", "Td", "L4", "first_contact", shanghai("2026-03-10", 10), to="li")
    s.task("overdue", "Td", "L4", "first_contact", shanghai("2026-03-10", 14), to="li")
    s.task("created", "Te", "L3", "review", shanghai("2026-03-05", 10), to="risk_director")
    s.task("overdue", "Te", "L3", "review", shanghai("2026-03-06", 9), to="risk_director")
    s.task("completed", "Te", "L3", "review", shanghai("2026-03-06", 10), to="risk_director")

    s.overdue("N1", "L1", shanghai("2026-04-14", 2), days=5, outstanding=270000)
    s.overdue("N1", "L1", shanghai("2026-05-14", 2), days=35, outstanding=270000)
    s.overdue("N3", "L3", shanghai("2026-05-17", 2), days=40, outstanding=445000)
    s.overdue("N3", "L3", shanghai("2026-07-13", 2), days=95, outstanding=440000)
    return s


@pytest.fixture
def firm() -> EventStream:
    return small_firm()


@pytest.fixture
def fresh_reporting(
    tmp_path: Path, tokens: harness.TokenFactory
) -> Iterator[Callable[[str], harness.ServiceUnderTest]]:
    """Another reporting service with empty databases of its own (to compare two deliveries)."""
    made: list[harness.ServiceUnderTest] = []

    def make(name: str) -> harness.ServiceUnderTest:
        service = harness.service_runtime("reporting", harness.environment_for_tests(tmp_path / name), tokens=tokens)
        made.append(service)
        return service

    yield make
    for service in made:
        service.runtime.database.dispose()
