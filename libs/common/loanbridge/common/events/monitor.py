"""Reports broker queue depths as gauges: the service's queue (consumer lag), its dead-letter queue, and the
alternate exchange's queue of unroutable events."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import structlog

from loanbridge.common import metrics
from loanbridge.common.events.broker import BROKER_ERRORS, connect
from loanbridge.common.events.topology import UNROUTABLE_QUEUE, ServiceQueues
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)

INTERVAL = 5.0


class QueueMonitor:
    def __init__(self, runtime: Runtime, stop: threading.Event, *, consumes: bool) -> None:
        self.runtime = runtime
        self.stop = stop
        self.consumes = consumes
        self.queues = ServiceQueues(runtime.name, runtime.settings.events.retry_delays)
        self._connection: Any = None

    def watched(self) -> list[tuple[str, str]]:
        queues = [(UNROUTABLE_QUEUE, "unroutable")]
        if self.consumes:
            queues += [(self.queues.main, "events"), (self.queues.dead_letter, "dead_letter")]
        return queues

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.report_once()
            except BROKER_ERRORS as exc:
                log.info("queue_monitor_broker_error", error=type(exc).__name__)
                self._close()
            self.stop.wait(INTERVAL)
        self._close()

    def report_once(self) -> None:
        if self._connection is None:
            self._connection = connect(str(self.runtime.settings.events.broker_url))
        channel = self._connection.channel()
        try:
            for queue, role in self.watched():
                depth = channel.queue_declare(queue, passive=True).message_count
                metrics.QUEUE_MESSAGES.labels(self.runtime.name, queue, role).set(depth)
        finally:
            channel.close()

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(BROKER_ERRORS):
                self._connection.release()
        self._connection = None
