"""The AMQP consumer: applies deliveries through the inbox and acknowledges only after the commit.

Deliveries are applied in batches, up to one prefetch window, in one transaction, acknowledged with one
``multiple`` ack. A delivery that comes while events stream in (within ``LOANBRIDGE_EVENTS_BATCH_WINDOW`` of the
last batch) waits that long for more, so that a steady stream is applied tens at a time and not one by one; a lone
event is applied at once. If any event of the batch fails, the batch is applied one event at a time so that only
the failing one is retried. While the database is unreachable the batch is held, unacknowledged.
A failing event is republished (with confirms) to a delayed-retry hold queue and only then acknowledged; after
its last attempt it goes to the dead-letter queue. A ``NotYet`` goes to delayed retry on a separate, larger
budget that does not count as failure. A consumer that dies mid-message never acks, so the broker redelivers;
the queue's ``x-delivery-limit`` dead-letters a message that keeps killing its consumer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import amqp
import structlog

from loanbridge.common import clock, failpoints, metrics
from loanbridge.common.db import is_connection_error
from loanbridge.common.events.broker import (
    BROKER_ERRORS,
    ConfirmingPublisher,
    Outgoing,
    PublishFailed,
    connect,
    keep_alive,
)
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet, error_label
from loanbridge.common.events.inbox import apply_event, apply_events
from loanbridge.common.events.topology import ServiceQueues
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-loanbridge-attempt"
NOT_YET_HEADER = "x-loanbridge-not-yet"
ERROR_HEADER = "x-loanbridge-error"
FAILED_AT_HEADER = "x-loanbridge-failed-at"
MAX_BACKOFF = 10.0
DATABASE_RETRY_SECONDS = 1.0


class DatabaseUnavailableError(RuntimeError):
    """The service's database did not answer while applying an event."""


def _headers(message: amqp.Message) -> dict[str, Any]:
    return dict(message.properties.get("application_headers") or {})


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
        received: list[amqp.Message] = []
        channel.basic_consume(self.queues.main, callback=received.append)
        self.connected.set()
        metrics.BROKER_UP.labels(self.runtime.name, "consumer").set(1)
        log.info("consumer_started", queue=self.queues.main)
        handled_at = float("-inf")  # when the last batch was applied
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                self._connection.drain_events(timeout=1.0)
                self._gather(received, window=self.batch_window(since_last_batch=time.monotonic() - handled_at))
            if received:
                # Deliveries that arrive while this batch is handled wait for the next one.
                batch = received[:]
                received.clear()
                self._handle_batch(channel, batch)
                handled_at = time.monotonic()
            self._connection.heartbeat_check()
            keep_alive(self._publish_connection)

    def batch_window(self, *, since_last_batch: float) -> float:
        """How long to wait for more after a delivery: a delivery soon after the last batch is part of a stream,
        worth gathering; a lone event is applied at once."""
        window = self.settings.batch_window
        return window if since_last_batch < window else 0.0

    def _gather(self, received: list[amqp.Message], *, window: float) -> None:
        """Take what else the broker sends within ``window`` seconds, up to one prefetch window."""
        closes_at = time.monotonic() + window
        while len(received) < self.settings.prefetch:
            try:
                self._connection.drain_events(timeout=max(closes_at - time.monotonic(), 0))
            except TimeoutError:
                return

    def _handle_batch(self, channel: Any, messages: list[amqp.Message]) -> None:
        """Apply a batch in one transaction and acknowledge it at once; if any event fails, handle each alone.

        Every message of the batch is settled (applied, retried or dead-lettered) before the single ``ack``
        with ``multiple``, so the acknowledgement never covers an unsettled message.
        """
        readable: list[tuple[amqp.Message, Envelope]] = []
        for message in messages:
            envelope = self._read(message)
            if envelope is not None:
                readable.append((message, envelope))
        while not self._settle(readable):
            # The database is unreachable: that is no event's fault. Hold the batch (unacknowledged, so the
            # broker keeps it for us and counts no redelivery) and try again once it answers.
            keep_alive(self._connection)
            keep_alive(self._publish_connection)
            if self.stop.wait(DATABASE_RETRY_SECONDS):
                raise DatabaseUnavailableError("stopping while the database is unreachable")
        channel.basic_ack(messages[-1].delivery_info["delivery_tag"], multiple=True)

    def _settle(self, readable: list[tuple[amqp.Message, Envelope]]) -> bool:
        """Apply the batch, isolating a failing event; False if the database could not be reached."""
        try:
            failpoints.hit("consumer.before_apply")
            apply_events(self.runtime, [envelope for _message, envelope in readable])
            failpoints.hit("consumer.after_commit")
            return True
        except Exception as exc:
            if is_connection_error(exc):
                log.warning("consumer_database_unavailable", error=type(exc).__name__)
                return False
        try:
            for message, envelope in readable:
                self._handle_one(message, envelope)
        except DatabaseUnavailableError:
            return False
        return True

    def _disconnect(self) -> None:
        self.connected.clear()
        metrics.BROKER_UP.labels(self.runtime.name, "consumer").set(0)
        for connection in (self._connection, self._publish_connection):
            if connection is not None:
                with contextlib.suppress(BROKER_ERRORS):
                    connection.release()
        self._connection = self._publish_connection = None
        self._publisher = None

    def _read(self, message: amqp.Message) -> Envelope | None:
        """The message's envelope; an unreadable message goes straight to the dead-letter queue."""
        try:
            envelope = Envelope.from_json(message.body)
        except (ValueError, TypeError) as exc:
            log.error("event_unreadable", message_id=message.properties.get("message_id"))
            self._dead_letter(message, _headers(message), exc, event_type=str(message.properties.get("type", "?")))
            return None
        if message.delivery_info.get("redelivered"):
            metrics.EVENTS_REDELIVERED.labels(self.runtime.name, envelope.type).inc()
        return envelope

    def _handle_one(self, message: amqp.Message, envelope: Envelope) -> None:
        """Apply one event; on failure send it to delayed retry or, after its last attempt, the DLQ."""
        try:
            failpoints.hit("consumer.before_apply")
            apply_event(self.runtime, envelope)
            failpoints.hit("consumer.after_commit")
        except NotYet:
            self._retry_not_yet(message, _headers(message), envelope)
        except Exception as exc:
            if is_connection_error(exc):
                raise DatabaseUnavailableError(type(exc).__name__) from exc
            log.warning("event_failed", event_type=envelope.type, event_id=envelope.id, error=error_label(exc))
            self._retry_failed(message, _headers(message), envelope, exc)

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
