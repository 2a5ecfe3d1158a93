"""Component tests of what survives a restart: personal data written by one process opens in the next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.testing import harness
from loanbridge.intake import handlers
from loanbridge.intake.handlers import leads as _leads  # noqa: F401 - loads the submodule

API = "/api/intake/v1"


@pytest.fixture
def restart(intake_env: dict[str, str], tokens: harness.TokenFactory) -> Callable[[], Any]:
    """A second intake process on the same database and keys (a restart, another gunicorn worker)."""
    started: list[harness.ServiceUnderTest] = []

    def start() -> Any:
        started.append(harness.service_runtime("intake", intake_env, tokens=tokens))
        return started[-1].client()

    yield start
    for service in started:
        service.runtime.database.dispose()


def test_a_restarted_intake_reads_the_leads_the_previous_process_wrote(
    client: Any, sales_headers: dict[str, str], new_lead: Callable[..., dict[str, Any]], restart: Callable[[], Any]
) -> None:
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()

    response = restart().get(f"{API}/leads/{lead['id']}", headers=sales_headers)

    assert response.status_code == 200
    assert response.get_json()["mobile"] == "138****5678"


def test_a_lead_written_on_the_retry_after_a_lost_race_is_readable_after_a_restart(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: Callable[..., dict[str, Any]],
    restart: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: FieldCipher used to remember a data key created inside a transaction before that transaction
    # committed. When the first transaction that encrypts anything rolled back (here: a lost unique-key race,
    # which run_transaction answers by running the handler again), the key's row was gone but the process kept
    # encrypting with it, and no other or restarted process could open those values ("unknown data key").
    first_attempt: list[bool] = []
    real_event_data = handlers.leads.lead_event_data

    def lose_the_first_race(row: Any, features: dict[str, Any]) -> dict[str, Any]:
        if not first_attempt:
            first_attempt.append(True)
            raise sa.exc.IntegrityError("INSERT INTO customers", {}, Exception("UNIQUE constraint failed"))
        return real_event_data(row, features)

    monkeypatch.setattr(handlers.leads, "lead_event_data", lose_the_first_race)
    created = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers)
    assert created.status_code == 201
    assert first_attempt == [True]

    response = restart().get(f"{API}/leads/{created.get_json()['id']}", headers=sales_headers)

    assert response.status_code == 200
    assert response.get_json()["mobile"] == "138****5678"
