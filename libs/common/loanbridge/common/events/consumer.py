"""The AMQP consumer: applies each delivery through the inbox and acknowledges only after the commit.

A failing event is republished (with confirms) to a delayed-retry hold queue and only then acknowledged; after
its last attempt it goes to the dead-letter queue. A ``NotYet`` goes to delayed retry on a separate, larger
budget that does not count as failure. A consumer that dies mid-message never acks, so the broker redelivers;
the queue's ``x-delivery-limit`` dead-letters a message that keeps killing its consumer.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import amqp
import structlog

from loanbridge.common import clock, failpoints, metrics
from loanbridge.common.errors import DomainError
from loanbridge.common.events.broker import (
    BROKER_ERRORS,
    ConfirmingPublisher,
    Outgoing,
    PublishFailed,
    connect,
)
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.events.inbox import apply_event
from loanbridge.common.events.topology import ServiceQueues
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-loanbridge-attempt"
NOT_YET_HEADER = "x-loanbridge-not-yet"
ERROR_HEADER = "x-loanbridge-error"
FAILED_AT_HEADER = "x-loanbridge-failed-at"
MAX_BACKOFF = 10.0


def error_label(exc: BaseException) -> str:
    """What a dead letter says about its failure: the error's type and code, never its text (it may hold data)."""
    if isinstance(exc, DomainError):
        return f"{type(exc).__name__}:{exc.code}"
    return type(exc).__name__


class EventConsumer:
    """Consumes the service's queue until ``stop`` is set."""

    def __init__(self, runtime: Runtime, stop: threading.Event) -> None:
        self.runtime = runtime
        self.stop = stop
        self.settings = runtime.settings.events
        self.queues = ServiceQueues(runtime.name, self.settings.retry_delays)
        self.connected = threading.Event()
        self._connection: Any = None
        self._publish_connection: Any = None
        self._publisher: ConfirmingPublisher | None = None

    def run(self) -> None:
        backoff = 0.5
        while not self.stop.is_set():
            try:
                self._consume()
                backoff = 0.5
            except (*BROKER_ERRORS, PublishFailed) as exc:
                log.warning("consumer_broker_error", error=type(exc).__name__)
            except Exception as exc:
                log.error("consumer_error", error=type(exc).__name__, exc_info=exc)
            finally:
                self._disconnect()
            self.stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _consume(self) -> None:
        url = self.settings.broker_url
        if not url:
            raise RuntimeError("LOANBRIDGE_BROKER_URL is required to consume events")
        self._connection = connect(url)
        self._publish_connection = connect(url)
        self._publisher = ConfirmingPublisher(self._publish_connection, timeout=self.settings.confirm_timeout)
        channel = self._connection.channel()
        channel.basic_qos(0, self.settings.prefetch, False)
        channel.basic_consume(self.queues.main, callback=lambda message: self._on_message(channel, message))
        self.connected.set()
        metrics.BROKER_UP.labels(self.runtime.name, "consumer").set(1)
        log.info("consumer_started", queue=self.queues.main)
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                self._connection.drain_events(timeout=1.0)
            self._connection.heartbeat_check()
            self._publish_connection.heartbeat_check()

    def _disconnect(self) -> None:
        self.connected.clear()
        metrics.BROKER_UP.labels(self.runtime.name, "consumer").set(0)
        for connection in (self._connection, self._publish_connection):
            if connection is not None:
                with contextlib.suppress(BROKER_ERRORS):
                    connection.release()
        self._connection = self._publish_connection = None
        self._publisher = None

    def _on_message(self, channel: Any, message: amqp.Message) -> None:
        delivery_tag = message.delivery_info["delivery_tag"]
        headers = dict(message.properties.get("application_headers") or {})
        try:
            envelope = Envelope.from_json(message.body)
        except (ValueError, TypeError) as exc:
            log.error("event_unreadable", message_id=message.properties.get("message_id"))
            self._dead_letter(message, headers, exc, event_type=str(message.properties.get("type", "unknown")))
            channel.basic_ack(delivery_tag)
            return
        if message.delivery_info.get("redelivered"):
            metrics.EVENTS_REDELIVERED.labels(self.runtime.name, envelope.type).inc()
        try:
            failpoints.hit("consumer.before_apply")
            apply_event(self.runtime, envelope)
            failpoints.hit("consumer.after_commit")
        except NotYet:
            self._retry_not_yet(message, headers, envelope)
        except Exception as exc:
            log.warning("event_failed", event_type=envelope.type, event_id=envelope.id, error=error_label(exc))
            self._retry_failed(message, headers, envelope, exc)
        channel.basic_ack(delivery_tag)

    def _retry_failed(self, message: amqp.Message, headers: dict, envelope: Envelope, exc: BaseException) -> None:
        attempt = int(headers.get(ATTEMPT_HEADER, 0)) + 1
        if attempt >= self.settings.max_attempts:
            self._dead_letter(message, headers, exc, event_type=envelope.type)
            return
        queue, _delay = self.queues.retry(attempt)
        self._republish(message, queue, {**headers, ATTEMPT_HEADER: attempt, ERROR_HEADER: error_label(exc)})
        metrics.EVENTS_RETRIED.labels(self.runtime.name, envelope.type, "failed").inc()

    def _retry_not_yet(self, message: amqp.Message, headers: dict, envelope: Envelope) -> None:
        waited = int(headers.get(NOT_YET_HEADER, 0)) + 1
        if waited > self.settings.not_yet_attempts:
            self._dead_letter(message, headers, NotYet(), event_type=envelope.type)
            return
        queue, _delay = self.queues.retry(waited)
        self._republish(message, queue, {**headers, NOT_YET_HEADER: waited})
        metrics.EVENTS_RETRIED.labels(self.runtime.name, envelope.type, "not_yet").inc()

    def _dead_letter(self, message: amqp.Message, headers: dict, exc: BaseException, *, event_type: str) -> None:
        failed = {**headers, ERROR_HEADER: error_label(exc), FAILED_AT_HEADER: clock.isoformat(clock.now())}
        self._republish(message, self.queues.dead_letter, failed)
        metrics.EVENTS_DEAD_LETTERED.labels(self.runtime.name, event_type).inc()
        log.error("event_dead_lettered", event_type=event_type, error=failed[ERROR_HEADER])

    def _republish(self, message: amqp.Message, queue: str, headers: dict) -> None:
        assert self._publisher is not None
        self._publisher.publish(
            [
                Outgoing(
                    exchange="",
                    routing_key=queue,
                    body=message.body if isinstance(message.body, bytes) else str(message.body).encode(),
                    message_id=str(message.properties.get("message_id", "")),
                    event_type=str(message.properties.get("type", "")),
                    headers=headers,
                )
            ]
        )
