"""Putting dead-lettered events back once their cause is fixed (``loanbridge replay-dlq <service>``)."""

from __future__ import annotations

import structlog

from loanbridge.common import metrics
from loanbridge.common.config import EventSettings
from loanbridge.common.events.broker import ConfirmingPublisher, Outgoing, connect
from loanbridge.common.events.consumer import ATTEMPT_HEADER, ERROR_HEADER, FAILED_AT_HEADER, NOT_YET_HEADER
from loanbridge.common.events.topology import ServiceQueues

log = structlog.get_logger(__name__)

RESET_HEADERS = {ATTEMPT_HEADER, NOT_YET_HEADER, ERROR_HEADER, FAILED_AT_HEADER}


def replay(service: str, settings: EventSettings, *, limit: int | None = None) -> int:
    """Move the messages now in the service's dead-letter queue back to its queue with a fresh retry budget.

    Only the messages present when the replay starts are moved, so one that fails again is not looped.
    """
    if not settings.broker_url:
        raise RuntimeError("LOANBRIDGE_BROKER_URL is required to replay dead letters")
    queues = ServiceQueues(service, settings.retry_delays)
    connection = connect(settings.broker_url)
    try:
        channel = connection.channel()
        waiting = channel.queue_declare(queues.dead_letter, passive=True).message_count
        budget = waiting if limit is None else min(waiting, limit)
        publisher = ConfirmingPublisher(connection, timeout=settings.confirm_timeout)
        replayed = 0
        while replayed < budget:
            message = channel.basic_get(queues.dead_letter, no_ack=False)
            if message is None:
                break
            headers = {
                key: value
                for key, value in (message.properties.get("application_headers") or {}).items()
                if key not in RESET_HEADERS
            }
            publisher.publish(
                [
                    Outgoing(
                        exchange="",
                        routing_key=queues.main,
                        body=message.body,
                        message_id=str(message.properties.get("message_id", "")),
                        event_type=str(message.properties.get("type", "")),
                        headers=headers,
                    )
                ]
            )
            channel.basic_ack(message.delivery_info["delivery_tag"])
            replayed += 1
        metrics.EVENTS_REPLAYED.labels(service).inc(replayed)
        log.info("dead_letters_replayed", service=service, count=replayed)
        return replayed
    finally:
        connection.release()
