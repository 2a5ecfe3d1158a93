"""Fixtures of identity's component tests: the service on SQLite in tmp_path, an admin and its token.

identity signs and verifies its own tokens, so no TokenFactory is involved here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from loanbridge.common.testing import harness
from loanbridge.identity import handlers

API = "/api/identity/v1"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"
STAFF_PASSWORD = "staff-password-1"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def identity_env(tmp_path: Path) -> dict[str, str]:
    return harness.environment_for_tests(tmp_path)


@pytest.fixture
def identity(identity_env: dict[str, str]) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("identity", identity_env)
    # argon2's production cost (~0.1 s a hash) would dominate the run; the same algorithm at a low cost
    # exercises the same code paths. Stored hashes carry their parameters, so verification is unchanged.
    service.runtime.config = replace(service.runtime.config, hasher=FAST_HASHER)
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def identity_db_path(tmp_path: Path) -> Path:
    return tmp_path / "identity.db"


@pytest.fixture
def client(identity: harness.ServiceUnderTest) -> Any:
    return identity.client()


@pytest.fixture
def admin_id(identity: harness.ServiceUnderTest) -> str:
    runtime = identity.runtime
    return runtime.transaction(
        handlers.ensure_admin, config=runtime.config, username=ADMIN_USERNAME, password=ADMIN_PASSWORD
    )


@pytest.fixture
def login(client: Any) -> Callable[[str, str], str]:
    """Log in with the password grant (form body) and return the access token."""

    def password_token(username: str, password: str) -> str:
        response = client.post(
            f"{API}/token", data={"grant_type": "password", "username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["access_token"]

    return password_token


@pytest.fixture
def admin_headers(login: Callable[[str, str], str], admin_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(ADMIN_USERNAME, ADMIN_PASSWORD)}"}


@pytest.fixture
def make_user(client: Any, admin_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Create a staff account through the API as the admin; a salesperson unless told otherwise."""

    def create(**fields: Any) -> dict[str, Any]:
        body = {"password": STAFF_PASSWORD, "display_name": "张三", "roles": ["sales"], **fields}
        response = client.post(f"{API}/users", json=body, headers=admin_headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return create
