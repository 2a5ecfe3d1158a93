"""Fixtures of risk's component tests: risk on SQLite in tmp_path, tokens from one TokenFactory, and events of
other services built as their outboxes would write them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.testing import harness

API = "/api/risk/v1"
DEFAULTS = Path(__file__).resolve().parents[1] / "loanbridge" / "risk" / "migrations" / "data"


@pytest.fixture(scope="session")
def tokens() -> harness.TokenFactory:
    return harness.TokenFactory()


@pytest.fixture
def risk(tmp_path: Path, tokens: harness.TokenFactory) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("risk", harness.environment_for_tests(tmp_path), tokens=tokens)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def client(risk: harness.ServiceUnderTest) -> Any:
    return risk.client()


@pytest.fixture
def officer(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="risk-officer-li", roles=["risk_officer"])


@pytest.fixture
def director(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="risk-director-wang", roles=["risk_director"])


@pytest.fixture
def sales(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="sales-zhang", roles=["sales"])


@pytest.fixture
def default_model() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of a default rule set's JDM model."""
    models = json.loads((DEFAULTS / "default_rulesets_v1.json").read_text(encoding="utf-8"))
    return lambda product: json.loads(json.dumps(models[product]))


@pytest.fixture
def new_event() -> Callable[..., Envelope]:
    """An event of another service, as its outbox would write it."""

    def build(event_type: str, data: dict[str, Any], *, occurred_at: datetime | None = None) -> Envelope:
        return Envelope.new(
            source=event_type.split(".", 1)[0],
            event_type=event_type,
            subject=data.get("lead_id") or data.get("product") or "x",
            sequence=1,
            data=data,
            correlation_id=str(uuid.uuid4()),
            causation_id=None,
            actor="system:test",
            occurred_at=occurred_at,
        )

    return build


@pytest.fixture
def submission() -> Callable[..., dict[str, Any]]:
    """The data of an ``intake.application.submitted`` event for a complete, sound house application."""

    def build(**overrides: Any) -> dict[str, Any]:
        features = {
            "property_valuation": 2_000_000,
            "existing_mortgage_balance": 0,
            "monthly_income": 30000,
            "monthly_debt_payment": 6000,
            "credit_inquiries_3m": 1,
            "overdue_count_24m": 0,
            "age": 40,
            "blacklisted": False,
            **overrides.pop("features", {}),
        }
        return {
            "lead_id": str(uuid.uuid4()),
            "customer_id": str(uuid.uuid4()),
            "product": "house",
            "form_version": 1,
            "amount": 500000,
            "term_months": 36,
            "channel": "douyin",
            "city": "济南",
            "features": features,
            "documents": ["id_card", "credit_report", "bank_statement", "property_certificate"],
            "required_documents": ["id_card", "credit_report", "bank_statement", "property_certificate"],
            "missing_fields": [],
            **overrides,
        }

    return build


@pytest.fixture
def submit(
    risk: harness.ServiceUnderTest, new_event: Callable[..., Envelope], submission: Callable[..., dict[str, Any]]
) -> Callable[..., tuple[list[Outcome], list[Envelope]]]:
    """Deliver a submission to risk; returns the outcomes and what risk published."""

    def deliver(data: dict[str, Any] | None = None, **overrides: Any) -> tuple[list[Outcome], list[Envelope]]:
        event = new_event("intake.application.submitted", data or submission(**overrides))
        outcomes = harness.deliver([event], risk.runtime)
        return outcomes, harness.drain_outbox(risk.runtime)

    return deliver


@pytest.fixture
def evaluated() -> Callable[[list[Envelope]], dict[str, Any]]:
    """The data of the one ``risk.evaluation.completed`` among published events."""

    def find(published: list[Envelope]) -> dict[str, Any]:
        found = [event.data for event in published if event.type == "risk.evaluation.completed"]
        assert len(found) == 1, [event.type for event in published]
        return found[0]

    return find
