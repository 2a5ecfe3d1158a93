"""Settings from environment variables, read once per process.

Every variable starts with ``LOANBRIDGE_``. A service's database URL is ``LOANBRIDGE_<SERVICE>_DATABASE_URL``,
or ``LOANBRIDGE_DATABASE_URL`` with a ``{service}`` placeholder shared by all services. Secrets (keys, client
secrets) have no defaults: a missing secret stops the process at start with a message naming the variable.
docs/configuration.md lists every variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "LOANBRIDGE_"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


class Env:
    """Typed access to ``LOANBRIDGE_*`` variables of one environment mapping."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(PREFIX + name)
        return default if value in (None, "") else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise ConfigError(f"environment variable {PREFIX}{name} is required and has no default")
        return value

    def integer(self, name: str, default: int) -> int:
        raw = self.get(name)
        try:
            return default if raw is None else int(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name} must be an integer, got {raw!r}") from exc

    def number(self, name: str, default: float) -> float:
        raw = self.get(name)
        try:
            return default if raw is None else float(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name} must be a number, got {raw!r}") from exc

    def numbers(self, name: str, default: tuple[float, ...]) -> tuple[float, ...]:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return tuple(float(part) for part in raw.split(",") if part.strip())
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name} must be comma-separated numbers, got {raw!r}") from exc


def database_url(env: Env, service: str) -> str:
    """The service's own database: its specific variable first, then the shared template."""
    specific = env.get(f"{service.upper()}_DATABASE_URL")
    if specific:
        return specific
    template = env.get("DATABASE_URL")
    if template is None:
        raise ConfigError(
            f"set {PREFIX}{service.upper()}_DATABASE_URL or {PREFIX}DATABASE_URL (with a {{service}} placeholder)"
        )
    return template.replace("{service}", service)


@dataclass(frozen=True)
class EventSettings:
    """How events travel: broker, retries and the relay's batches."""

    broker_url: str | None
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    not_yet_attempts: int = 30
    delivery_limit: int = 10
    prefetch: int = 50
    # A steady stream of events would otherwise go one per batch, a transaction each: while events stream in, a
    # consumer waits this long after a delivery for more, and the relay this long after a batch smaller than
    # relay_batch_size. The latency an event may gain, per hop, for a fraction of the CPU.
    batch_window: float = 0.2
    relay_batch_size: int = 500
    relay_poll_interval: float = 0.05
    confirm_timeout: float = 5.0

    @property
    def max_attempts(self) -> int:
        """Deliveries a failing event gets (the first plus one per retry delay) before the dead-letter queue."""
        return len(self.retry_delays) + 1


@dataclass(frozen=True)
class AuthSettings:
    """Where tokens come from and what they must say."""

    jwks_url: str | None
    issuer: str = "loanbridge-identity"
    audience: str = "loanbridge"
    jwks_cache_seconds: float = 300.0


@dataclass(frozen=True)
class Settings:
    """The settings every service process needs; a service adds its own in its config.py."""

    service: str
    database_url: str
    events: EventSettings
    auth: AuthSettings
    business_timezone: str = "Asia/Shanghai"
    log_level: str = "INFO"
    var_dir: str = "var"
    # A worker's work (consuming, relaying, timers) can wait; a request cannot. On a node shared with web
    # processes the workers yield the CPU to them (0 to disable; 0–19 as nice(1)).
    worker_nice: int = 10

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Settings:
        env = Env(environ)
        return cls(
            service=service,
            database_url=database_url(env, service),
            events=EventSettings(
                broker_url=env.get("BROKER_URL"),
                retry_delays=env.numbers("EVENTS_RETRY_DELAYS", EventSettings.retry_delays),
                not_yet_attempts=env.integer("EVENTS_NOT_YET_ATTEMPTS", EventSettings.not_yet_attempts),
                delivery_limit=env.integer("EVENTS_DELIVERY_LIMIT", EventSettings.delivery_limit),
                prefetch=env.integer("EVENTS_PREFETCH", EventSettings.prefetch),
                batch_window=env.number("EVENTS_BATCH_WINDOW", EventSettings.batch_window),
                relay_batch_size=env.integer("RELAY_BATCH_SIZE", EventSettings.relay_batch_size),
                relay_poll_interval=env.number("RELAY_POLL_INTERVAL", EventSettings.relay_poll_interval),
                confirm_timeout=env.number("CONFIRM_TIMEOUT", EventSettings.confirm_timeout),
            ),
            auth=AuthSettings(
                jwks_url=env.get("JWKS_URL"),
                issuer=env.get("JWT_ISSUER", AuthSettings.issuer) or AuthSettings.issuer,
                audience=env.get("JWT_AUDIENCE", AuthSettings.audience) or AuthSettings.audience,
                jwks_cache_seconds=env.number("JWKS_CACHE_SECONDS", AuthSettings.jwks_cache_seconds),
            ),
            business_timezone=env.get("BUSINESS_TIMEZONE", "Asia/Shanghai") or "Asia/Shanghai",
            log_level=env.get("LOG_LEVEL", "INFO") or "INFO",
            var_dir=env.get("VAR_DIR", "var") or "var",
            worker_nice=env.integer("WORKER_NICE", cls.worker_nice),
        )
