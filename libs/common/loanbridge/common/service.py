"""What a service tells the rest of the suite about itself, and how the CLI finds every service.

Each service publishes one ``ServiceSpec`` under the ``loanbridge.services`` entry-point group, so that
``loanbridge migrate`` can declare every service's queues and bindings, and ``loanbridge up`` start them all.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click
    from flask import Flask

    from loanbridge.common.config import Env
    from loanbridge.common.events.envelope import Envelope
    from loanbridge.common.runtime import Runtime
    from loanbridge.common.uow import UnitOfWork

EventHandler = Callable[["UnitOfWork", "Envelope"], None]

# The order services start in and are listed in: identity first, its JWKS is needed by every other.
SERVICE_ORDER = ("identity", "intake", "workflow", "risk", "notify", "reporting")


@dataclass(frozen=True)
class ServiceSpec:
    """A service's name, app factory, migrations, subscriptions and extra commands."""

    name: str
    create_app: Callable[[Runtime], Flask]
    migrations: Path
    subscriptions: Mapping[str, EventHandler] = field(default_factory=dict)
    commands: Sequence[click.Command] = ()
    resync: Callable[[Runtime], int] | None = None
    # Background work of the service's worker (and of the embedded process): each runs until the event is set.
    worker_loops: Sequence[Callable[[Runtime, threading.Event], None]] = ()
    # Key rotation (``loanbridge rotate-keys``): re-wrap what a previous KEK wrapped; with --data-keys, re-encrypt
    # everything sealed by data keys created before the given instant. Both return how many keys they moved.
    rewrap_keys: Callable[[Runtime], int] | None = None
    reencrypt: Callable[..., int] | None = None
    # Idempotent setup outside the database (a storage bucket), run by ``loanbridge migrate``.
    prepare: Callable[[Runtime], None] | None = None
    # The history path (``loanbridge close-history``, demo data): close, without firing, every timer or scheduled
    # message that a history written with past business times left due before an instant; answers counts.
    close_history: Callable[..., dict[str, int]] | None = None
    config_factory: Callable[[Env], Any] | None = None


def discover() -> dict[str, ServiceSpec]:
    """Every installed service, in start order."""
    found = {ep.name: ep.load() for ep in entry_points(group="loanbridge.services")}
    ordered = [name for name in SERVICE_ORDER if name in found] + sorted(set(found) - set(SERVICE_ORDER))
    return {name: found[name] for name in ordered}


def get(name: str) -> ServiceSpec:
    """One installed service by name. Only its own entry point is loaded: importing every service's code cost
    each starting process 0.5-0.8 s more CPU (2026-12-02), and every restart pays it."""
    found = entry_points(group="loanbridge.services")
    for entry in found:
        if entry.name == name:
            return entry.load()
    raise KeyError(f"unknown service {name!r}; installed: {', '.join(sorted(found.names)) or 'none'}")
