"""Applying a delivered event exactly once: the handler's effects and the inbox row commit together.

Both delivery paths use this: the AMQP consumer (distributed mode) and the outbox dispatcher (embedded mode).
"""

from __future__ import annotations

import enum

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


def apply_events(runtime: Runtime, envelopes: list[Envelope]) -> list[Outcome]:
    """Apply several events in one transaction (a consumer's batch): all commit, or none does.

    Raises whatever a handler raises; the caller then applies the events one by one to isolate the failure.
    """
    outcomes = runtime.transaction(lambda uow: [_apply(runtime, uow, envelope) for envelope in envelopes])
    for envelope, outcome in zip(envelopes, outcomes, strict=True):
        if outcome is not Outcome.NOT_SUBSCRIBED:
            counter = metrics.EVENTS_CONSUMED if outcome is Outcome.APPLIED else metrics.EVENTS_DUPLICATE
            counter.labels(runtime.name, envelope.type).inc()
    return outcomes


def _apply(runtime: Runtime, uow: UnitOfWork, envelope: Envelope) -> Outcome:
    handler = runtime.spec.subscriptions.get(envelope.routing_key)
    if handler is None:
        log.warning("event_not_subscribed", event_type=envelope.type, routing_key=envelope.routing_key)
        return Outcome.NOT_SUBSCRIBED
    if not uow.claim(envelope):
        return Outcome.DUPLICATE
    cause = context.Cause(
        correlation_id=envelope.correlationid, causation_id=envelope.id, actor=f"system:{runtime.name}"
    )
    with context.caused_by(cause):
        handler(uow, envelope)
    return Outcome.APPLIED
