"""Component tests of the notify shell: it starts on SQLite, answers its probes and serves its OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

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


def test_the_migration_creates_exactly_the_tables_the_code_describes(notify_client: Any, tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from loanbridge.notify import orm

    engine = sa.create_engine(f"sqlite:///{tmp_path}/notify.db")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), orm.metadata)
    engine.dispose()

    def table_of(difference: Any) -> str | None:
        thing = difference[1] if isinstance(difference, tuple) else difference[0][2]
        return (
            getattr(thing, "name", None) if isinstance(thing, sa.Table) else getattr(thing, "table", sa.table("")).name
        )

    ours = [d for d in differences if table_of(d) in orm.metadata.tables]
    assert ours == []


def test_the_default_policies_are_seeded_by_the_migration(notify_client: Any) -> None:
    runtime = notify_client.application.extensions["loanbridge"]
    policies = runtime.transaction(
        lambda uow: [row.id for row in uow.session.execute(sa.text("SELECT id FROM policies ORDER BY id"))]
    )

    assert policies == sorted(
        [
            "case_assigned", "duplicate_lead", "high_risk", "task_reminder", "task_overdue", "task_escalated",
            "review_routed",
            "repayment_due", "loan_overdue", "reloan_followup", "reloan_offer",
        ]
    )  # fmt: skip
