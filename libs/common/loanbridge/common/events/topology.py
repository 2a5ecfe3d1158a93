"""The broker's shape, derived from the services' subscription registries and declared by ``loanbridge migrate``.

- ``loanbridge.events``: the durable topic exchange every event is published to; its alternate exchange
  ``loanbridge.unroutable`` (fanout) catches events no queue is bound for into the queue of the same name.
- per consuming service: ``<service>.events``, a quorum queue bound to the routing keys of its registry, with an
  explicit ``x-delivery-limit`` (RabbitMQ 3.10 has no default) so a message that keeps killing its consumer is
  dead-lettered instead of looping; ``<service>.events.retry.<ms>ms`` hold queues whose TTL sends a message back
  to the service's queue after the delay; ``<service>.events.dlq`` keeps what failed its last attempt.
Dead-lettering between quorum queues uses the at-least-once strategy, so nothing is lost on the way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loanbridge.common.config import EventSettings

EXCHANGE = "loanbridge.events"
UNROUTABLE_EXCHANGE = "loanbridge.unroutable"
UNROUTABLE_QUEUE = "loanbridge.unroutable"


@dataclass(frozen=True)
class ServiceQueues:
    """The queue names of one consuming service."""

    service: str
    retry_delays: tuple[float, ...]

    @property
    def main(self) -> str:
        return f"{self.service}.events"

    @property
    def dead_letter(self) -> str:
        return f"{self.service}.events.dlq"

    def retry(self, attempt: int) -> tuple[str, float]:
        """The hold queue and delay for the n-th retry (1-based); later retries reuse the longest delay."""
        delay = self.retry_delays[min(attempt, len(self.retry_delays)) - 1]
        return f"{self.main}.retry.{round(delay * 1000)}ms", delay

    @property
    def retry_queues(self) -> list[tuple[str, float]]:
        return [self.retry(attempt) for attempt in range(1, len(self.retry_delays) + 1)]


def _quorum(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"x-queue-type": "quorum", **(extra or {})}


def _dead_letter_to(queue: str) -> dict[str, Any]:
    return {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def declare(channel: Any, bindings: Mapping[str, Iterable[str]], settings: EventSettings) -> None:
    """Declare exchanges, and for each service with subscriptions its queues and bindings (idempotent)."""
    channel.exchange_declare(UNROUTABLE_EXCHANGE, "fanout", durable=True, auto_delete=False)
    channel.queue_declare(UNROUTABLE_QUEUE, durable=True, auto_delete=False, arguments=_quorum())
    channel.queue_bind(UNROUTABLE_QUEUE, UNROUTABLE_EXCHANGE, "")
    channel.exchange_declare(
        EXCHANGE,
        "topic",
        durable=True,
        auto_delete=False,
        arguments={"alternate-exchange": UNROUTABLE_EXCHANGE},
    )
    for service, routing_keys in bindings.items():
        keys = sorted(set(routing_keys))
        if not keys:
            continue
        queues = ServiceQueues(service, settings.retry_delays)
        channel.queue_declare(queues.dead_letter, durable=True, auto_delete=False, arguments=_quorum())
        channel.queue_declare(
            queues.main,
            durable=True,
            auto_delete=False,
            arguments=_quorum({"x-delivery-limit": settings.delivery_limit, **_dead_letter_to(queues.dead_letter)}),
        )
        for name, delay in queues.retry_queues:
            channel.queue_declare(
                name,
                durable=True,
                auto_delete=False,
                arguments=_quorum({"x-message-ttl": round(delay * 1000), **_dead_letter_to(queues.main)}),
            )
        for key in keys:
            channel.queue_bind(queues.main, EXCHANGE, key)
