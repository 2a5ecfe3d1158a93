"""Fixtures of workflow's component tests: the service on SQLite in tmp_path trusting a TokenFactory, a fixed
clock (Monday 2026-11-30 10:00 in Shanghai), identity's staff and teams, and catalog-shaped events of intake,
identity and risk delivered through the inbox as a queue would."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.events.schemas import repository_root, validate_data
from loanbridge.common.testing import harness
from loanbridge.common.uow import UnitOfWork

API = "/api/workflow/v1"
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
TEAM = "7d1c0a8e-5b6f-4f0e-9a3c-1b2d3e4f5a60"
MANAGER = "mgr-wang"
ROOT = repository_root(Path(__file__))


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="session")
def tokens() -> harness.TokenFactory:
    return harness.TokenFactory()


@pytest.fixture
def fixed_clock() -> Iterator[clock.FixedClock]:
    with clock.use_clock(clock.FixedClock(START)) as fixed:
        yield fixed  # type: ignore[misc]


@pytest.fixture
def workflow_env(tmp_path: Path) -> dict[str, str]:
    return harness.environment_for_tests(tmp_path)


@pytest.fixture
def workflow(
    workflow_env: dict[str, str], tokens: harness.TokenFactory, fixed_clock: clock.FixedClock
) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("workflow", workflow_env, tokens=tokens)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def client(workflow: harness.ServiceUnderTest) -> Any:
    return workflow.client()


class Suite:
    """What the other services would send workflow, and shortcuts to read what it did."""

    def __init__(self, service: harness.ServiceUnderTest, tokens: harness.TokenFactory) -> None:
        self.service = service
        self.runtime = service.runtime
        self.tokens = tokens
        self.client = service.client()
        self.sequences: dict[str, int] = {}
        self.team_id = TEAM
        self.environ: dict[str, str] = {}
        # Events built here are checked against the producers' published schemas (docs/events/).
        self.catalog_shaped = True

    # --- events in ---
    def event(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        subject: str,
        occurred_at: datetime | None = None,
        sequence: int | None = None,
        caused_by: Envelope | None = None,
    ) -> Envelope:
        if sequence is None:
            sequence = self.sequences[subject] = self.sequences.get(subject, 0) + 1
        envelope = Envelope.new(
            source=event_type.split(".", 1)[0],
            event_type=event_type,
            subject=subject,
            sequence=sequence,
            data=data,
            correlation_id=new_id(),
            causation_id=caused_by.id if caused_by is not None else None,
            actor="system:test",
            occurred_at=occurred_at,
        )
        if self.catalog_shaped:
            # Staff ids here are readable names rather than identity's UUIDs; every other rule is checked.
            errors = [error for error in validate_data(envelope, ROOT) if "is not a 'uuid'" not in error]
            assert errors == [], errors
        return envelope

    def deliver(self, *events: Envelope) -> list[Outcome]:
        return harness.deliver(list(events), self.runtime)

    def user(
        self,
        user_id: str,
        *,
        team_id: str | None = TEAM,
        roles: tuple[str, ...] = ("sales",),
        active: bool = True,
        kind: str = "created",
    ) -> Envelope:
        data = {"user_id": user_id, "display_name": f"员工{user_id[-4:]}", "roles": list(roles), "team_id": team_id,
                "region": "济南", "products": ["house", "credit", "car"], "active": active}  # fmt: skip
        event = self.event(f"identity.user.{kind}", data, subject=user_id)
        self.deliver(event)
        return event

    def team(self, team_id: str = TEAM, *, manager_id: str | None = MANAGER, name: str = "济南一组") -> Envelope:
        data = {"team_id": team_id, "name": name, "manager_id": manager_id, "region": "济南"}
        event = self.event("identity.team.created", data, subject=team_id)
        self.deliver(event)
        return event

    def lead_event(
        self,
        *,
        customer_id: str | None = None,
        submitted_by: str = "sales-zhang",
        partner_id: str | None = None,
        product: str = "house",
        city: str = "济南",
        amount: float = 300000,
        channel: str = "douyin",
        lead_id: str | None = None,
    ) -> Envelope:
        lead_id = lead_id or new_id()
        data = {
            "lead_id": lead_id, "customer_id": customer_id or new_id(), "product": product, "amount": amount,
            "term_months": 36, "purpose": None, "channel": channel, "partner_id": partner_id, "city": city,
            "submitted_by": submitted_by, "duplicate_outcome": "new_customer", "features": {},
            "created_at": clock.isoformat(clock.now()),
        }  # fmt: skip
        return self.event("intake.lead.created", data, subject=lead_id)

    def lead(self, **kwargs: Any) -> dict[str, Any]:
        """Deliver a lead and answer its case as workflow now sees it."""
        event = self.lead_event(**kwargs)
        self.deliver(event)
        return self.case(event.data["lead_id"])

    def partner_lead(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("partner_id", "6f1f6f1e-2c1b-4d8e-9a55-0b9d7c3e0a11")
        kwargs.setdefault("submitted_by", "p_rongtong_api")
        kwargs.setdefault("channel", "rongtong_api")
        return self.lead(**kwargs)

    def submitted(self, case: dict[str, Any], *, documents: tuple[str, ...] = ("id_card",)) -> Envelope:
        data = {
            "lead_id": case["id"], "customer_id": case["customer_id"], "product": case["product"], "form_version": 1,
            "amount": case["amount"], "term_months": case["term_months"], "channel": case["channel"],
            "city": case["city"], "features": {"age": 41, "blacklisted": False}, "documents": list(documents),
            "required_documents": ["id_card", "credit_report"], "missing_fields": [],
        }  # fmt: skip
        return self.event("intake.application.submitted", data, subject=case["id"])

    def evaluation(
        self,
        case: dict[str, Any],
        decision: str,
        *,
        route_to: str | None = None,
        hits: list[dict[str, Any]] | None = None,
        missing_documents: list[str] | None = None,
        occurred_at: datetime | None = None,
        supplement_required: bool = False,
        reasons: list[str] | None = None,
        caused_by: Envelope | None = None,
    ) -> Envelope:
        hits = [{"table": "rules", "decision": decision, "route_to": None, "flag": None, "inputs": {}, **hit}
                for hit in hits or []]  # fmt: skip
        data = {
            "evaluation_id": new_id(), "lead_id": case["id"], "customer_id": case["customer_id"],
            "ruleset_version": 3, "score": 72, "grade": "B", "decision": decision, "route_to": route_to,
            "flags": [], "hits": hits or [], "missing_documents": missing_documents or [], "missing_fields": [],
            "product": case.get("product", "house"), "supplement_required": supplement_required,
            "reasons": reasons if reasons is not None else [hit["reason"] for hit in hits or []],
        }  # fmt: skip
        return self.event(
            "risk.evaluation.completed", data, subject=case["id"], occurred_at=occurred_at, caused_by=caused_by
        )

    def followup(
        self,
        case: dict[str, Any],
        *,
        user_id: str,
        next_followup_at: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        data = {"lead_id": case["id"], "customer_id": case["customer_id"], "user_id": user_id, "method": "call",
                "outcome": "interested", "intent_level": "A", "next_followup_at": next_followup_at}  # fmt: skip
        return self.event("intake.followup.logged", data, subject=new_id(), occurred_at=occurred_at)

    def graded(self, case: dict[str, Any], grade: str, *, previous: str | None = None) -> Envelope:
        data = {"customer_id": case["customer_id"], "lead_id": case["id"], "grade": grade, "previous_grade": previous,
                "reasons": ["测试"]}  # fmt: skip
        return self.event("risk.customer.graded", data, subject=case["customer_id"])

    # --- reading back ---
    def case(self, case_id: str) -> dict[str, Any]:
        from loanbridge.workflow import views
        from loanbridge.workflow.handlers.cases import get_case

        def read(uow: UnitOfWork) -> dict[str, Any]:
            return views.case_answer(get_case(uow, case_id))

        return self.runtime.transaction(read)

    def events(self, event_type: str | None = None) -> list[Envelope]:
        """Everything workflow wrote to its outbox since the last call (of one type, when given)."""
        drained = harness.drain_outbox(self.runtime)
        return [event for event in drained if event_type is None or event.type == event_type]

    def tasks(self, case_id: str, *, status: str = "open") -> list[dict[str, Any]]:
        from loanbridge.workflow import orm

        with self.runtime.database.session() as session:
            rows = session.execute(
                sa.select(orm.tasks).where(orm.tasks.c.case_id == case_id, orm.tasks.c.status == status)
                .order_by(orm.tasks.c.created_at, orm.tasks.c.id)
            ).all()  # fmt: skip
        return [dict(row._mapping) for row in rows]

    def headers(self, subject: str, *roles: str, **claims: Any) -> dict[str, str]:
        return self.tokens.header(subject=subject, roles=list(roles) or ["sales"], **claims)

    def manager(self) -> dict[str, str]:
        return self.headers(MANAGER, "manager", team_id=TEAM, managed_team_ids=[TEAM])

    def admin(self) -> dict[str, str]:
        return self.headers("admin-1", "admin")

    def rule(self, **body: Any) -> dict[str, Any]:
        response = self.client.post(f"{API}/assignment-rules", json={"position": 10, "name": "规则", **body},
                                    headers=self.admin())  # fmt: skip
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def suite(workflow: harness.ServiceUnderTest, tokens: harness.TokenFactory) -> Suite:
    return Suite(workflow, tokens)


@pytest.fixture
def make_suite(
    tmp_path: Path, tokens: harness.TokenFactory, fixed_clock: clock.FixedClock
) -> Iterator[Callable[..., Suite]]:
    """A workflow service of its own with some settings changed (``LOANBRIDGE_…`` names)."""
    services: list[harness.ServiceUnderTest] = []

    def build(**settings: str) -> Suite:
        env = harness.environment_for_tests(tmp_path / f"custom{len(services)}", **settings)
        (tmp_path / f"custom{len(services)}").mkdir()
        services.append(harness.service_runtime("workflow", env, tokens=tokens))
        built = Suite(services[-1], tokens)
        built.environ = env
        return built

    yield build
    for service in services:
        service.runtime.database.dispose()


@pytest.fixture
def sales_team(suite: Suite) -> list[str]:
    """A team of three salespeople under mgr-wang."""
    suite.team()
    suite.user(MANAGER, roles=("manager",))
    members = ["sales-a", "sales-b", "sales-c"]
    for member in members:
        suite.user(member)
    return members


@pytest.fixture
def run_timers(workflow: harness.ServiceUnderTest) -> Callable[[], int]:
    from loanbridge.workflow.handlers.tasks import run_timers as run

    return lambda: run(workflow.runtime)
