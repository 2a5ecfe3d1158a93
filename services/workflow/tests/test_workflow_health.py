"""Component tests of the workflow shell: it starts on SQLite, answers its probes and serves its OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.testing import harness

SERVICE = "workflow"


@pytest.fixture
def workflow_client(tmp_path: Path) -> Iterator[Any]:
    service = harness.service_runtime(SERVICE, harness.environment_for_tests(tmp_path), tokens=harness.TokenFactory())
    yield service.client()
    service.runtime.database.dispose()


def test_workflow_is_alive(workflow_client: Any) -> None:
    response = workflow_client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": SERVICE}


def test_workflow_is_ready_when_its_database_answers(workflow_client: Any) -> None:
    response = workflow_client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "service": SERVICE}


def test_workflow_serves_its_openapi_document(workflow_client: Any) -> None:
    response = workflow_client.get(f"/api/{SERVICE}/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == f"LoanBridge {SERVICE}"


def test_workflow_exposes_prometheus_metrics(workflow_client: Any) -> None:
    response = workflow_client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
