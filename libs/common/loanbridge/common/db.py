"""Database access: one engine per service database, sessions, readiness and migrations.

MariaDB/MySQL in the distributed mode, SQLite (WAL, busy timeout) in the embedded mode and in component tests.
Nothing connects at import time or in ``Database()``: the first query does, after gunicorn has forked.

On MySQL a web request (a ``connect_budget``, opened by the app factory's request hooks) has
``MYSQL_CONNECT_TIMEOUT`` for all the connections it opens together, on every pool (each one's handshake: TCP
connect, greeting, authentication, PyMySQL's SET NAMES and autocommit), and once one of them failed the others fail
at once: a request is answered 503 within 2 s while the database is down or recovering (docs/reliability.md, b).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import cached_property
from pathlib import Path
from typing import Any

import pymysql
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from loanbridge.common.errors import Unavailable

# Opening connections (a database that accepts TCP but does not greet, mariadbd recovering after a crash) may cost
# a request at most this long in all, so that the API still answers 503 within 2 s (docs/reliability.md).
MYSQL_CONNECT_TIMEOUT = 1
MYSQL_POOL_TIMEOUT = 2
MYSQL_IO_TIMEOUT = 10
SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_engine(url: str, *, pool_size: int = 5, isolation_level: str = "READ COMMITTED") -> Engine:
    """An engine tuned for the backend: short connect timeouts on MySQL, WAL and a busy timeout on SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        # No pre-ping: it costs a round trip per transaction. A connection found dead fails its request with a
        # 503 and SQLAlchemy then discards the pool's stale connections.
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=MYSQL_POOL_TIMEOUT,
        isolation_level=isolation_level,
        connect_args={
            "connect_timeout": MYSQL_CONNECT_TIMEOUT,
            "read_timeout": MYSQL_IO_TIMEOUT,
            "write_timeout": MYSQL_IO_TIMEOUT,
            "charset": "utf8mb4",
        },
    )
    if parsed.get_driver_name() == "pymysql":
        event.listen(engine, "do_connect", _connect_by_deadline)
    return engine


# --- connecting by a deadline -------------------------------------------------------------------------------
class ConnectBudget:
    """The time one unit of work (a web request) may spend opening database connections, on every pool together.

    Each new connection gets what is left; once an attempt failed, or nothing is left, the next attempt fails at
    once: a lead request opens its quota counter's connection and then its transaction's, and a database that
    took the first one slowly must not be given a second full timeout.
    """

    def __init__(self, seconds: float = MYSQL_CONNECT_TIMEOUT) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.failed = False

    def allowance(self) -> float:
        """Seconds the next connection attempt may take; raises a connection error when there are none."""
        if self.failed:
            raise pymysql.err.OperationalError(2003, "no database connection: an attempt of this request failed")
        left = self.seconds - self.spent
        if left <= 0:
            raise pymysql.err.OperationalError(2003, "no database connection: this request's connect time is spent")
        return left

    def record(self, seconds: float, *, failed: bool) -> None:
        self.spent += seconds
        self.failed = self.failed or failed


_budget: ContextVar[ConnectBudget | None] = ContextVar("loanbridge_connect_budget", default=None)


def open_connect_budget(seconds: float = MYSQL_CONNECT_TIMEOUT) -> Token[ConnectBudget | None]:
    """Give the work in this context one connect budget, until ``close_connect_budget`` (request hooks)."""
    return _budget.set(ConnectBudget(seconds))


def close_connect_budget(token: Token[ConnectBudget | None]) -> None:
    _budget.reset(token)


@contextmanager
def connect_budget(seconds: float = MYSQL_CONNECT_TIMEOUT) -> Iterator[ConnectBudget]:
    """Run a block with one connect budget for all the connections it opens."""
    token = open_connect_budget(seconds)
    try:
        budget = _budget.get()
        assert budget is not None
        yield budget
    finally:
        close_connect_budget(token)


class _HandshakeDeadline:
    """A connection's read or write timeout: what is left of its request's deadline during the handshake, the
    timeout PyMySQL was given (``read_timeout``, ``write_timeout``) once connected."""

    def __init__(self, direction: str) -> None:
        self.stored = f"_query_{direction}_timeout"

    def __get__(self, connection: _DeadlineConnection, owner: type | None = None) -> float | None:
        return connection._left() if connection._budget is not None else getattr(connection, self.stored)

    def __set__(self, connection: _DeadlineConnection, seconds: float | None) -> None:
        setattr(connection, self.stored, seconds)


class _DeadlineConnection(pymysql.connections.Connection):  # type: ignore[misc]
    """PyMySQL's connection whose handshake ends by its request's deadline: TCP connect, greeting, authentication,
    SET NAMES and autocommit (PyMySQL alone gives each of these reads a timeout of its own, so a server that answers
    each step late would hold the request several timeouts long). Once connected, its statements (SQLAlchemy's
    session set-up first) keep their read and write timeouts; the request is charged the time the handshake took.

    The session set-up is left out of the deadline on purpose: it is a few more round trips (eleven statements on
    an engine's first connection), which a loaded machine or a slow link may stretch past a second although the
    server answers; a server that stalls does so before its greeting (mariadbd recovering)."""

    def __init__(self, *args: Any, budget: ConnectBudget, **kwargs: Any) -> None:
        self._budget: ConnectBudget | None = budget
        self._set_up_began = time.monotonic()
        self._deadline = self._set_up_began + budget.allowance()
        super().__init__(*args, **{**kwargs, "connect_timeout": self._left()})
        self.set_up_ended(failed=False)

    def _left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.001)  # 0 would make the socket non-blocking

    def set_up_ended(self, *, failed: bool) -> None:
        if self._budget is not None:
            self._budget.record(time.monotonic() - self._set_up_began, failed=failed)
            self._budget = None

    def _force_close(self) -> None:
        # PyMySQL's reaction to a socket error or timeout: during the handshake, the request's attempt failed.
        self.set_up_ended(failed=True)
        super()._force_close()

    # PyMySQL reads these before every socket operation and sets the socket's timeout when they changed.
    _read_timeout = _HandshakeDeadline("read")
    _write_timeout = _HandshakeDeadline("write")


def _connect_by_deadline(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
    """Open a connection within the request's connect budget.

    Outside a request (workers, commands) each step of PyMySQL's handshake may take ``MYSQL_CONNECT_TIMEOUT``
    (it would wait for a greeting with the read timeout, 10 s) and the session set-up the read timeout: a worker
    retries on its own and must still reconnect over a slow link.
    """
    budget = _budget.get()
    if budget is None:
        connection = dialect.dbapi.connect(*cargs, **{**cparams, "read_timeout": MYSQL_CONNECT_TIMEOUT})
        connection._read_timeout = cparams.get("read_timeout")  # PyMySQL re-applies it before each read
        return connection
    # A failed attempt is charged by its _force_close; a spent budget raises before any attempt.
    return _DeadlineConnection(*cargs, budget=budget, **cparams)


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, open transactions so BEGIN IMMEDIATE below takes the write lock early.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers queue on the lock at BEGIN instead of failing with "database is locked" on upgrade.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """A service's database: its engine and a session factory."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False, autoflush=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def autocommit(self) -> sa.Connection:
        """A connection whose every statement commits by itself (single-statement writes, no transaction).

        On MySQL these come from a pool of their own, so no connection switches its isolation level (a round
        trip each way) on every checkout.
        """
        if self.dialect == "sqlite":
            return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit_engine.connect()

    @cached_property
    def _autocommit_engine(self) -> Engine:
        return create_engine(self.url, pool_size=2, isolation_level="AUTOCOMMIT")

    def ping(self) -> None:
        """Raise ``Unavailable`` unless the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.DBAPIError as exc:
            raise Unavailable(code="database_unavailable") from exc

    def dispose(self) -> None:
        self.engine.dispose()
        if "_autocommit_engine" in self.__dict__:
            self._autocommit_engine.dispose()


def is_connection_error(exc: BaseException) -> bool:
    """True for errors that mean the database is unreachable rather than that the statement was wrong."""
    return isinstance(exc, sa.exc.DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    )


def ensure_database(url: str) -> None:
    """Create the MySQL database named in the URL if it does not exist (SQLite files create themselves)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    name = parsed.database
    server = sa.create_engine(parsed.set(database=""), connect_args={"connect_timeout": MYSQL_CONNECT_TIMEOUT})
    try:
        with server.connect() as connection:
            connection.execute(
                sa.text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
    finally:
        server.dispose()


def drop_database(url: str) -> None:
    """Drop a MySQL database or delete a SQLite file (tests and ``loanbridge reset``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and os.path.exists(parsed.database):
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    server = sa.create_engine(parsed.set(database=""))
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{parsed.database}`"))
    finally:
        server.dispose()


COMMON_MIGRATIONS = Path(__file__).parent / "migrations"


def migrate_engine(engine: Engine, migrations: Path) -> None:
    """Apply the shared tables' migrations, then a service's own, to the database behind ``engine``."""
    upgrade(engine, COMMON_MIGRATIONS)
    upgrade(engine, migrations)


def migrate_database(url: str, migrations: Path) -> None:
    """Create the database if needed and bring it up to date (idempotent)."""
    ensure_database(url)
    database = Database(url)
    try:
        migrate_engine(database.engine, migrations)
    finally:
        database.dispose()


def upgrade(engine: Engine, migrations_dir: Path) -> None:
    """Apply every alembic migration in ``migrations_dir`` to the database behind ``engine``."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrations_dir))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
