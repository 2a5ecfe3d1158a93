"""Fixtures of intake's component tests: the service on SQLite in tmp_path trusting a TokenFactory, two
partners with their registered channels, and callers of every kind."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.tables import outbox
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
