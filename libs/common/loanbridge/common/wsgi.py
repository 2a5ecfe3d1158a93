"""Entry point for gunicorn: ``gunicorn 'loanbridge.common.wsgi:create("intake")'`` (``loanbridge web``)."""

from __future__ import annotations

import contextlib
import time

import sqlalchemy as sa
import structlog
from flask import Flask

from loanbridge.common import service as services
from loanbridge.common.logs import configure_logging
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)
WARM_UP_SECONDS = 15.0


def create(service: str) -> Flask:
    """Build one service's app in a gunicorn worker, after the fork."""
    spec = services.get(service)
    runtime = Runtime(spec)
    configure_logging(service=service, level=runtime.settings.log_level)
    return spec.create_app(runtime)


def warm_up(runtime: Runtime, *, connections: int, seconds: float = WARM_UP_SECONDS) -> bool:
    """Open what a new worker's first requests would (``connections`` database connections on each pool, the
    token keys) before it takes one: opened inside a request on a busy machine they may not fit its connect budget,
    and the request would be a 503. Retried until ``seconds`` have passed, then left to the requests (a database
    that is down is theirs to answer). True when everything was opened."""
    deadline = time.monotonic() + seconds
    database = runtime.database
    for connect in (database.engine.connect, database.autocommit):
        while True:
            try:
                with contextlib.ExitStack() as held:
                    for _ in range(connections):
                        held.enter_context(connect())  # checked out of its pool: connected
                break
            except sa.exc.DBAPIError as exc:
                if time.monotonic() >= deadline:
                    log.warning("warm_up_incomplete", service=runtime.name, error=type(exc).__name__)
                    return False
                time.sleep(0.2)
    try:
        runtime.verifier.key_source.keys()
    except Exception as exc:  # identity not answering yet: the first request fetches the keys again
        log.warning("warm_up_incomplete", service=runtime.name, error=type(exc).__name__)
        return False
    return True
