"""Fixtures of the chaos runs: servers of the harness's own, one distributed stack on them, its admin.

Run by ``make chaos`` (``pytest tests/chaos -s``), never by ``make test``. ``--leads N`` (or
``LOANBRIDGE_CHAOS_LEADS``) scales every scenario down for a quick check. The runs need nginx and the Debian
``rabbitmq-server`` and ``mariadb-server`` packages; without them they fail with the reason, whether ``CI`` is
set or not (a chaos run is asked for on purpose: it never skips quietly).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loanbridge.common import stack as stacks
from loanbridge.common.testing.servers import MARIADBD, RABBITMQ_BIN, OwnMariaDB, OwnRabbitMQ
from tests.integration.support import Api, Stack, password_token, running_stack


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--leads", type=int, default=None, help="leads (events) per chaos scenario, e.g. 1000")


def pytest_configure(config: pytest.Config) -> None:
    leads = config.getoption("--leads", default=None)
    if leads:
        os.environ["LOANBRIDGE_CHAOS_LEADS"] = str(leads)


def _missing() -> list[str]:
    missing = []
    if not Path(stacks.nginx_binary()).is_absolute():
        missing.append("nginx is not installed")
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        missing.append("rabbitmq-server is not installed")
    if not Path(MARIADBD).exists() or shutil.which("mariadb-install-db") is None:
        missing.append("mariadb-server is not installed")
    return missing


@pytest.fixture(scope="session")
def own_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OwnMariaDB, OwnRabbitMQ]]:
    """A mariadbd and a RabbitMQ node of our own, which the nemesis may kill; removed afterwards."""
    missing = _missing()
    if missing:
        pytest.fail("chaos runs cannot start: " + "; ".join(missing))
    folder = tmp_path_factory.mktemp("servers")
    with (
        OwnMariaDB(folder / "mariadb", options={"innodb_buffer_pool_size": "256M", "max_connections": "400"}) as db,
        OwnRabbitMQ(folder / "rabbitmq") as broker,
    ):
        yield db, broker


# ``loanbridge up`` waits 90 s for every process to answer its readiness probe; on two cores shared with other
# work (load average 15 and more) the webs alone take longer to boot. The chaos stack is given this long.
READY_SECONDS = 300


@pytest.fixture(scope="session")
def chaos_stack(
    own_servers: tuple[OwnMariaDB, OwnRabbitMQ], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The distributed suite on our own servers, through fault proxies."""
    database, broker = own_servers
    context = running_stack(
        tmp_path_factory.mktemp("stack"),
        mariadb=("127.0.0.1", database.port),
        rabbitmq=broker.address,
        broker_admin=broker.ctl,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Stack, "cli", _patient_up(Stack.cli))
        stack = context.__enter__()
    try:
        yield stack
    finally:
        context.__exit__(None, None, None)


def _patient_up(cli: Callable[..., str]) -> Callable[..., str]:
    """``Stack.cli`` that gives ``loanbridge up`` READY_SECONDS for readiness (only while the stack starts)."""

    def patient(stack: Stack, *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None) -> str:
        if args[:1] == ("up",) and "--timeout" not in args:
            args, timeout = (*args, "--timeout", str(READY_SECONDS)), max(timeout, READY_SECONDS + 150)
        return cli(stack, *args, timeout=timeout, extra_env=extra_env)

    return patient


@pytest.fixture(scope="session")
def chaos_admin(chaos_stack: Stack) -> Api:
    chaos_stack.cli("create-admin", "--username", "chaos", "--password", "chaos-admin-1")
    return Api(chaos_stack.gateway, password_token(chaos_stack.gateway, "chaos", "chaos-admin-1"))
