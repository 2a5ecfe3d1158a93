"""Fixtures of intake's component tests: the service on SQLite in tmp_path trusting a TokenFactory, two
partners with their registered channels, and callers of every kind."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.pii.validators import id_check_char
from loanbridge.common.tables import access_audit, outbox
from loanbridge.common.testing import harness
from loanbridge.intake import orm

API = "/api/intake/v1"


@pytest.fixture(scope="session")
def tokens() -> harness.TokenFactory:
    return harness.TokenFactory()


@pytest.fixture
def intake_env(tmp_path: Path) -> dict[str, str]:
    return harness.environment_for_tests(tmp_path)


@pytest.fixture
def intake(intake_env: dict[str, str], tokens: harness.TokenFactory) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("intake", intake_env, tokens=tokens)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def intake_db_files(tmp_path: Path) -> Callable[[], bytes]:
    """The raw bytes of intake's SQLite database, write-ahead log included."""
    return lambda: b"".join(path.read_bytes() for path in sorted(tmp_path.glob("intake.db*")))


@pytest.fixture
def client(intake: harness.ServiceUnderTest) -> Any:
    return intake.client()


@pytest.fixture
def admin_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="admin-1", roles=["admin"])


@pytest.fixture
def sales_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="sales-zhang", roles=["sales"], team_id="team-jinan-1")


@pytest.fixture
def other_sales_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="sales-li", roles=["sales"], team_id="team-jinan-1")


@pytest.fixture
def register_partner(client: Any, tokens: harness.TokenFactory, admin_headers: dict[str, str]) -> Callable[..., Any]:
    """Register a partner's channel as an admin; answers the partner's id, channel code and token header."""

    def register(code: str, name: str) -> dict[str, Any]:
        partner_id = str(uuid.uuid4())
        response = client.post(
            f"{API}/channels",
            json={"code": code, "name": name, "kind": "partner", "partner_id": partner_id},
            headers=admin_headers,
        )
        assert response.status_code == 201, response.get_json()
        claims = {"subject": f"p_{code}", "roles": ["partner"], "partner_id": partner_id}
        return {
            "partner_id": partner_id,
            "channel": code,
            "subject": f"p_{code}",
            "claims": claims,  # to mint a token under another clock: tokens.header(**partner["claims"])
            "headers": tokens.header(**claims),
        }

    return register


@pytest.fixture
def partner(register_partner: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return register_partner("rongtong_api", "融通数科")


@pytest.fixture
def other_partner(register_partner: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return register_partner("huijin_api", "汇金科技")


@pytest.fixture
def row_counts(intake: harness.ServiceUnderTest) -> Callable[[], dict[str, int]]:
    """How many leads, customers and outbox events intake holds."""

    def count() -> dict[str, int]:
        with intake.runtime.database.session() as session:
            return {
                table.name: session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in (orm.leads, orm.customers, outbox)
            }

    return count


@pytest.fixture
def new_lead() -> Callable[..., dict[str, Any]]:
    """A valid lead body (a 济南 house loan); keyword arguments replace or add fields, None removes one."""

    def build(**changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "张三丰",
            "mobile": "13812345678",
            "id_number": "370102198506121239",
            "city": "济南",
            "product": "house",
            "amount": 500000,
            "term_months": 36,
            "purpose": "经营周转",
            "form": {
                "property_city": "济南",
                "property_address": "历下区泉城路1号",
                "property_area": 120,
                "property_valuation": 2000000,
                "monthly_income": 20000,
                "monthly_debt_payment": 3000,
            },
        }
        body.update(changes)
        return {name: value for name, value in body.items() if value is not None}

    return build


@pytest.fixture
def manager_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    """The manager of team-jinan-1 (sales-zhang's and sales-li's team)."""
    return tokens.header(
        subject="mgr-wang", roles=["manager"], team_id="team-jinan-1", managed_team_ids=["team-jinan-1"]
    )


@pytest.fixture
def risk_headers(tokens: harness.TokenFactory) -> dict[str, str]:
    return tokens.header(subject="risk-zhao", roles=["risk_officer"])


@pytest.fixture
def id_number() -> Callable[..., str]:
    """A valid 18-digit resident ID number (GB 11643): a real district code, a birth date, a sequence."""

    def build(district: str = "370102", born: date = date(1985, 6, 12), sequence: int = 123) -> str:
        first17 = f"{district}{born:%Y%m%d}{sequence:03d}"
        return first17 + id_check_char(first17)

    return build


@pytest.fixture
def new_event() -> Callable[..., Envelope]:
    """A catalog-shaped event of another service (workflow, risk, identity), as its outbox would write it."""

    def build(
        event_type: str,
        data: dict[str, Any],
        *,
        subject: str | None = None,
        sequence: int = 1,
        occurred_at: datetime | None = None,
    ) -> Envelope:
        return Envelope.new(
            source=event_type.split(".", 1)[0],
            event_type=event_type,
            subject=subject or data.get("case_id") or data.get("customer_id") or data.get("user_id") or "x",
            sequence=sequence,
            data=data,
            correlation_id=str(uuid.uuid4()),
            causation_id=None,
            actor="system:test",
            occurred_at=occurred_at,
        )

    return build


@pytest.fixture
def assign_case(intake: harness.ServiceUnderTest, new_event: Callable[..., Envelope]) -> Callable[..., list[Outcome]]:
    """Deliver workflow's ``workflow.case.assigned`` for a lead answer (its id and customer_id) to intake."""

    def assign(
        lead: dict[str, Any],
        assignee_id: str,
        team_id: str | None,
        *,
        sequence: int = 1,
        occurred_at: datetime | None = None,
    ) -> list[Outcome]:
        data = {
            "case_id": lead["id"],
            "customer_id": lead["customer_id"],
            "assignee_id": assignee_id,
            "team_id": team_id,
            "rule_id": "rule-staff-entered",
            "reason": "staff_entered",
        }
        event = new_event("workflow.case.assigned", data, sequence=sequence, occurred_at=occurred_at)
        return harness.deliver([event], intake.runtime)

    return assign


@pytest.fixture
def audit_rows(intake: harness.ServiceUnderTest) -> Callable[[], list[dict[str, Any]]]:
    """intake's access audit, oldest first."""

    def read() -> list[dict[str, Any]]:
        with intake.runtime.database.session() as session:
            rows = session.execute(sa.select(access_audit).order_by(access_audit.c.id)).all()
        return [dict(row._mapping) for row in rows]

    return read
