"""The outbox relay: publishes committed events in batches with broker confirms, then marks them published.

The rows stay locked while their batch is published; if the process dies between the broker's confirm and the
database commit, the batch is published again later, and consumers' inboxes drop the duplicates.
"""

from __future__ import annotations

import contextlib
import threading
import time

import structlog

from loanbridge.common import metrics
from loanbridge.common.events import outbox
from loanbridge.common.events.broker import (
    BROKER_ERRORS,
    ConfirmingPublisher,
    Outgoing,
    PublishFailed,
    connect,
    keep_alive,
)
from loanbridge.common.events.envelope import MESSAGE_CONTENT_TYPE
from loanbridge.common.events.topology import EXCHANGE
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)

BACKLOG_REPORT_INTERVAL = 5.0
PRUNE_INTERVAL = 600.0
MAX_BACKOFF = 10.0
MAX_IDLE_WAIT = 0.4


class OutboxRelay:
    """Moves the outbox of one service to the broker until ``stop`` is set."""

    def __init__(self, runtime: Runtime, stop: threading.Event) -> None:
        self.runtime = runtime
        self.stop = stop
        self.settings = runtime.settings.events
        self.connected = threading.Event()
        self._publisher: ConfirmingPublisher | None = None
        self._connection = None
        self._backlog_reported_at = 0.0
        self._pruned_at = time.monotonic()

    def run(self) -> None:
        """Relay until stopped, reconnecting with back-off when the broker or database fails."""
        backoff = 0.5
        idle_wait = self.settings.relay_poll_interval
        while not self.stop.is_set():
            try:
                # Before the broker: while it is unreachable the backlog gauges must keep growing, not freeze.
                self._housekeeping()
                self._ensure_publisher()
                published = self.relay_batch()
                backoff = 0.5
                if published:
                    idle_wait = self.settings.relay_poll_interval
                    if published < self.settings.relay_batch_size:
                        self.stop.wait(self.settings.batch_window)  # let the next batch fill
                    continue
                # An idle outbox is polled less and less often, up to MAX_IDLE_WAIT; a commit in this process
                # (embedded mode, resync) wakes the relay at once.
                self.runtime.outbox_written.wait(idle_wait)
                self.runtime.outbox_written.clear()
                idle_wait = min(idle_wait * 2, MAX_IDLE_WAIT)
            except (*BROKER_ERRORS, PublishFailed) as exc:
                log.warning("relay_broker_error", error=type(exc).__name__)
                self._disconnect()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            except Exception as exc:
                log.error("relay_error", error=type(exc).__name__, exc_info=exc)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        self._disconnect()

    def relay_batch(self) -> int:
        """Publish one batch of pending events; return how many."""
        with self.runtime.database.session() as session, session.begin():
            pending = outbox.lock_pending(session, self.settings.relay_batch_size)
            if not pending:
                return 0
            self._ensure_publisher().publish(
                [
                    Outgoing(
                        exchange=EXCHANGE,
                        routing_key=event.routing_key,
                        body=event.envelope.encode(),
                        message_id=event.event_id,
                        event_type=event.event_type,
                        content_type=MESSAGE_CONTENT_TYPE,
                    )
                    for event in pending
                ]
            )
            outbox.mark_published(session, [event.id for event in pending])
        for event in pending:
            metrics.EVENTS_PUBLISHED.labels(self.runtime.name, event.event_type).inc()
        return len(pending)

    def _ensure_publisher(self) -> ConfirmingPublisher:
        if self._publisher is None:
            connection = connect(self._broker_url())
            self._connection = connection
            self._publisher = ConfirmingPublisher(connection, timeout=self.settings.confirm_timeout)
            self.connected.set()
            metrics.BROKER_UP.labels(self.runtime.name, "relay").set(1)
            log.info("relay_connected")
        else:
            keep_alive(self._publisher.connection)
        return self._publisher

    def _broker_url(self) -> str:
        url = self.settings.broker_url
        if not url:
            raise RuntimeError("LOANBRIDGE_BROKER_URL is required to relay events")
        return url

    def _disconnect(self) -> None:
        self.connected.clear()
        metrics.BROKER_UP.labels(self.runtime.name, "relay").set(0)
        if self._connection is not None:
            with contextlib.suppress(BROKER_ERRORS):
                self._connection.release()
        self._connection = None
        self._publisher = None

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._backlog_reported_at >= BACKLOG_REPORT_INTERVAL:
            self._backlog_reported_at = now
            report_backlog(self.runtime)
        if now - self._pruned_at >= PRUNE_INTERVAL:
            self._pruned_at = now
            with self.runtime.database.session() as session, session.begin():
                outbox.prune_published(session)


def report_backlog(runtime: Runtime) -> None:
    """Set the outbox backlog gauges from the database."""
    with runtime.database.session() as session:
        current = outbox.backlog(session)
    metrics.OUTBOX_BACKLOG.labels(runtime.name).set(current.pending)
    metrics.OUTBOX_OLDEST_AGE.labels(runtime.name).set(current.oldest_age_seconds())
