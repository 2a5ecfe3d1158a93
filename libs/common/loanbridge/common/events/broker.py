"""Broker connections and a publisher that waits for the broker's confirms of a whole batch, with a deadline.

kombu's ``confirm_publish`` waits for each message in turn and, without a timeout, can wait forever; here a
batch is written at once and its confirms are awaited together, so publishing 500 events costs one round trip.
A confirm alone does not prove a queue took the message: messages are published ``mandatory`` and a
``basic.return`` fails the batch (the events exchange has an alternate exchange, so only a missing queue of the
retry and dead-letter paths can return one).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import amqp
from kombu import Connection

from loanbridge.common import metrics

HEARTBEAT_SECONDS = 10
CONNECT_TIMEOUT = 3.0
SOCKET_TIMEOUT = 10.0
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    amqp.exceptions.AMQPError,
    amqp.exceptions.RecoverableConnectionError,
    ConnectionError,
)


class PublishFailed(Exception):
    """The broker refused, returned, or did not confirm a batch in time; nothing in it counts as published."""


def connect(url: str) -> Connection:
    """An open connection with heartbeats and socket timeouts, so a dead or black-holed broker is noticed."""
    connection = Connection(
        url,
        heartbeat=HEARTBEAT_SECONDS,
        connect_timeout=CONNECT_TIMEOUT,
        transport_options={"read_timeout": SOCKET_TIMEOUT, "write_timeout": SOCKET_TIMEOUT},
    )
    connection.connect()
    return connection


def keep_alive(connection: Connection) -> None:
    """Read what the broker sent (its heartbeats) and send ours when due.

    Call it about once a second on a connection that is otherwise only written to: py-amqp counts only bytes it
    has read, so a publisher that never reads would take the broker for dead after two heartbeat intervals.
    """
    with contextlib.suppress(TimeoutError):
        connection.drain_events(timeout=0)
    connection.heartbeat_check()


@dataclass(frozen=True)
class Outgoing:
    """One message to publish."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    event_type: str
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str = "application/cloudevents+json"


class ConfirmingPublisher:
    """Publishes batches on a channel in confirm mode; ``publish`` returns only when all are confirmed."""

    def __init__(self, connection: Connection, *, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        self.channel = connection.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self._next_tag = 0
        self._unconfirmed: set[int] = set()
        self._nacked: set[int] = set()
        self._returned: set[str] = set()

    def publish(self, messages: Sequence[Outgoing]) -> None:
        """Publish and wait until the broker has confirmed every message; raise ``PublishFailed`` otherwise."""
        if not messages:
            return
        began, outcome = time.monotonic(), "failed"
        try:
            self._publish(messages)
            outcome = "confirmed"
        finally:
            metrics.EVENTS_PUBLISH_SECONDS.labels(outcome).observe(time.monotonic() - began)

    def _publish(self, messages: Sequence[Outgoing]) -> None:
        self._nacked.clear()
        self._returned.clear()
        for outgoing in messages:
            self._next_tag += 1
            self._unconfirmed.add(self._next_tag)
            self.channel.basic_publish(
                amqp.Message(
                    outgoing.body,
                    content_type=outgoing.content_type,
                    delivery_mode=2,
                    message_id=outgoing.message_id,
                    type=outgoing.event_type,
                    timestamp=int(time.time()),
                    application_headers=outgoing.headers,
                ),
                exchange=outgoing.exchange,
                routing_key=outgoing.routing_key,
                mandatory=True,
            )
        self._await_confirms()
        if self._nacked or self._returned:
            raise PublishFailed(f"{len(self._nacked)} nacked, {len(self._returned)} returned by the broker")

    def _await_confirms(self) -> None:
        deadline = time.monotonic() + self.timeout
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._unconfirmed.clear()
                raise PublishFailed(f"no confirm within {self.timeout}s")
            try:
                self.connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue

    def _settle(self, tag: int, multiple: bool) -> set[int]:
        settled = {t for t in self._unconfirmed if t <= tag} if multiple else {tag} & self._unconfirmed
        self._unconfirmed -= settled
        return settled

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked |= self._settle(delivery_tag, multiple)

    def _on_return(self, _exc: Exception, _exchange: str, _routing_key: str, message: amqp.Message) -> None:
        self._returned.add(str(message.properties.get("message_id")))
