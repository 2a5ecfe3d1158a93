"""Fixtures of the common library's unit tests: a migrated SQLite database per test, a tiny service runtime, and
global state (clock, business time zone, failpoints) put back after every test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from flask import Flask

from loanbridge.common import clock, failpoints
from loanbridge.common.db import COMMON_MIGRATIONS, Database, upgrade
from loanbridge.common.runtime import Runtime
from loanbridge.common.service import EventHandler, ServiceSpec
from loanbridge.common.uow import UnitOfWork

SERVICE = "demo"


@pytest.fixture(autouse=True)
def _restore_process_globals() -> Iterator[None]:
    """Tests may install a clock, a business time zone or failpoints; none of it leaks into the next test."""
    yield
    clock.install(clock.SystemClock())
    clock.set_business_timezone("Asia/Shanghai")
    failpoints.configure("")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database holding the shared tables (outbox, inbox, sequences, idempotency keys, data keys)."""
    db = Database(f"sqlite:///{tmp_path}/{SERVICE}.db")
    upgrade(db.engine, COMMON_MIGRATIONS)
    yield db
    db.dispose()


@pytest.fixture
def make_uow(database: Database) -> Callable[[], UnitOfWork]:
    """Fresh units of work on the test database, as a service's runtime makes them."""
    return lambda: UnitOfWork(database, SERVICE)


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Runtimes of made-up services on SQLite in ``tmp_path``, their shared tables migrated."""
    made: list[Runtime] = []

    def make(
        name: str = SERVICE, *, subscriptions: Mapping[str, EventHandler] | None = None, **environ: str
    ) -> Runtime:
        spec = ServiceSpec(
            name=name,
            create_app=_no_app,
            migrations=COMMON_MIGRATIONS,
            subscriptions=subscriptions or {},
        )
        env = {"LOANBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/{{service}}.db", **environ}
        runtime = Runtime(spec, environ=env)
        upgrade(runtime.database.engine, COMMON_MIGRATIONS)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.database.dispose()


def _no_app(runtime: Runtime) -> Flask:
    raise NotImplementedError("tests build their own app with build_app")
