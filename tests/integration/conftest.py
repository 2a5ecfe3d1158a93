"""The integration suite needs the real MariaDB, RabbitMQ and nginx. In CI (``CI=true``) a missing one fails
the run loudly; elsewhere the suite is skipped with the reason printed, never silently."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.support import Api, Stack, missing_requirements, password_token, running_stack

REQUIRED = os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get(
    "LOANBRIDGE_REQUIRE_INTEGRATION", ""
).lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.integration)
    if not ours:
        return
    # The PII scan looks at what every other integration test left behind, so it runs last.
    scans = [item for item in items if Path(str(item.fspath)).name == "test_pii_scan.py"]
    items[:] = [item for item in items if item not in scans] + scans
    missing = missing_requirements()
    if not missing:
        return
    reason = "integration suite cannot run: " + "; ".join(missing)
    if REQUIRED:
        raise pytest.UsageError(reason + " (CI requires it)")
    config.issue_config_time_warning(pytest.PytestWarning(reason), stacklevel=1)
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One distributed LoanBridge for the whole session (starting one takes ~15 s)."""
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def admin(stack: Stack) -> Api:
    """The stack's admin, created with the CLI as an operator would."""
    stack.cli("create-admin", "--username", "admin", "--password", "integration-admin-1")
    return Api(stack.gateway, password_token(stack.gateway, "admin", "integration-admin-1"))
