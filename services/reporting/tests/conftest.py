"""Fixtures of reporting's component tests: reporting and intake on SQLite in tmp_path, both trusting one
TokenFactory, with intake's events moved to reporting by draining the outbox (no broker)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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
