"""A service's process-wide parts, built once per process: settings, database, token verifier, config.

The web app, the worker and the CLI each build one ``Runtime``; nothing in it connects until first used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any, TypeVar

from loanbridge.common import clock, metrics
from loanbridge.common.auth import KeySource, RemoteJwks, TokenVerifier
from loanbridge.common.config import ConfigError, Env, Settings
from loanbridge.common.db import Database
from loanbridge.common.events.catalog import PUBLISHED
from loanbridge.common.service import ServiceSpec
from loanbridge.common.uow import UnitOfWork, run_transaction

T = TypeVar("T")


class Runtime:
    """Settings, database and verifier of one service in this process."""

    def __init__(self, spec: ServiceSpec, *, environ: Mapping[str, str] | None = None) -> None:
        self.spec = spec
        self.settings = Settings.from_env(spec.name, environ)
        self.config = spec.config_factory(Env(environ)) if spec.config_factory else None
        self.outbox_written = threading.Event()
        self.outbox_listeners: list[threading.Event] = []
        self._key_source: Any = None
        clock.set_business_timezone(self.settings.business_timezone)
        metrics.declare_event_types(spec.name, sorted(t for t in PUBLISHED if t.split(".", 1)[0] == spec.name))

    @property
    def name(self) -> str:
        return self.spec.name

    @cached_property
    def database(self) -> Database:
        return Database(self.settings.database_url)

    def use_key_source(self, keys: KeySource) -> None:
        """Verify tokens with local keys instead of a remote JWKS (identity itself, tests)."""
        self._key_source = keys
        self.__dict__.pop("verifier", None)

    @cached_property
    def verifier(self) -> TokenVerifier:
        keys = self._key_source
        if keys is None:
            if not self.settings.auth.jwks_url:
                raise ConfigError("LOANBRIDGE_JWKS_URL is required to verify tokens")
            keys = RemoteJwks(self.settings.auth.jwks_url, cache_seconds=self.settings.auth.jwks_cache_seconds)
        return TokenVerifier(keys, issuer=self.settings.auth.issuer, audience=self.settings.auth.audience)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.database, self.name, on_events_committed=self._events_committed, config=self.config)

    def _events_committed(self) -> None:
        # Wakes this process's relay (or, in the embedded mode, every dispatcher) without waiting for a poll.
        self.outbox_written.set()
        for listener in self.outbox_listeners:
            listener.set()

    def autocommit(self, handler: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a single-statement use case on an autocommit connection (no transaction round trips)."""
        with self.database.autocommit() as connection:
            return handler(connection, **kwargs)

    def transaction(self, handler: Callable[..., T], /, **kwargs: Any) -> T:
        """Run a use case in its own unit of work, re-running it once on a unique-key conflict."""
        return run_transaction(self.unit_of_work, handler, **kwargs)


def current() -> Runtime:
    """The runtime of the service handling the request in scope."""
    from flask import current_app

    return current_app.extensions["loanbridge"]
