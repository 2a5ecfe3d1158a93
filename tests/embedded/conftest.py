"""Fixtures of the embedded-mode tests: a `loanbridge run` process with an admin and a partner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.embedded.support import EmbeddedProcess
from tests.integration.support import Api, Partner, password_token, register_partner


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedProcess]:
    running = EmbeddedProcess(var_dir=tmp_path / "var")
    running.start()
    yield running
    running.stop()


def admin_of(embedded: EmbeddedProcess) -> Api:
    embedded.cli("create-admin", "--username", "admin", "--password", "embedded-admin-1")
    return Api(embedded.url, password_token(embedded.url, "admin", "embedded-admin-1"))


def partner_of(embedded: EmbeddedProcess, admin: Api, name: str = "融信科技") -> Partner:
    return register_partner(embedded, admin, name)  # type: ignore[arg-type]
