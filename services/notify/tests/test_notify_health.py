"""Component tests of the notify shell: it starts on SQLite, answers its probes and serves its OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.testing import harness

SERVICE = "notify"


@pytest.fixture
def notify_client(tmp_path: Path) -> Iterator[Any]:
    service = harness.service_runtime(SERVICE, harness.environment_for_tests(tmp_path), tokens=harness.TokenFactory())
    yield service.client()
    service.runtime.database.dispose()


def test_notify_is_alive(notify_client: Any) -> None:
    response = notify_client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": SERVICE}


def test_notify_is_ready_when_its_database_answers(notify_client: Any) -> None:
    response = notify_client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "service": SERVICE}


def test_notify_serves_its_openapi_document(notify_client: Any) -> None:
    response = notify_client.get(f"/api/{SERVICE}/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == f"LoanBridge {SERVICE}"


def test_notify_exposes_prometheus_metrics(notify_client: Any) -> None:
    response = notify_client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
