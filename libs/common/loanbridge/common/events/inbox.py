"""Applying a delivered event exactly once: the handler's effects and the inbox row commit together.

Both delivery paths use this: the AMQP consumer (distributed mode) and the outbox dispatcher (embedded mode).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import structlog

from loanbridge.common import context, metrics
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork

log = structlog.get_logger(__name__)


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    NOT_SUBSCRIBED = "not_subscribed"


def apply_event(runtime: Runtime, envelope: Envelope) -> Outcome:
    """Run the service's handler for the event unless its inbox says it was applied already.

    Raises whatever the handler raises (``NotYet`` included); nothing is committed then.
    """
    return apply_events(runtime, [envelope])[0]


def apply_events(
    runtime: Runtime, envelopes: list[Envelope], *, then: Callable[[UnitOfWork], None] | None = None
) -> list[Outcome]:
    """Apply several events in one transaction (a consumer's batch): all commit, or none does. ``then`` runs
    last in the same transaction (the embedded dispatcher advances its cursor there).

    Raises whatever a handler raises; the caller then applies the events one by one to isolate the failure.
    """

    def apply_all(uow: UnitOfWork) -> list[Outcome]:
        handlers = [_handler(runtime, envelope) for envelope in envelopes]
        claimed = uow.claim_all([envelope for envelope, handler in zip(envelopes, handlers, strict=True) if handler])
        outcomes = []
        for envelope, handler in zip(envelopes, handlers, strict=True):
            if handler is None:
                outcomes.append(Outcome.NOT_SUBSCRIBED)
            elif envelope.id in claimed:
                claimed.discard(envelope.id)  # a repeat of the same event within the batch is a duplicate
                actor = f"system:{runtime.name}"
                cause = context.Cause(correlation_id=envelope.correlationid, causation_id=envelope.id, actor=actor)
                with context.caused_by(cause):
                    handler(uow, envelope)
                outcomes.append(Outcome.APPLIED)
            else:
                outcomes.append(Outcome.DUPLICATE)
        if then is not None:
            then(uow)
        return outcomes

    outcomes = runtime.transaction(apply_all)
    for envelope, outcome in zip(envelopes, outcomes, strict=True):
        if outcome is not Outcome.NOT_SUBSCRIBED:
            counter = metrics.EVENTS_CONSUMED if outcome is Outcome.APPLIED else metrics.EVENTS_DUPLICATE
            counter.labels(runtime.name, envelope.type).inc()
    return outcomes


def _handler(runtime: Runtime, envelope: Envelope) -> Callable[[UnitOfWork, Envelope], None] | None:
    handler = runtime.spec.subscriptions.get(envelope.routing_key)
    if handler is None:
        log.warning("event_not_subscribed", event_type=envelope.type, routing_key=envelope.routing_key)
    return handler
