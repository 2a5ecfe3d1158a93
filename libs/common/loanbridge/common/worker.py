"""A service's worker process: outbox relay, event consumer, queue monitor, and a small HTTP server for
``/healthz`` (alive), ``/readyz`` (database and broker) and ``/metrics``.

Each part runs in its own thread until SIGTERM or SIGINT; the process then finishes the message in hand
(it is acknowledged only after its commit) and exits.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from loanbridge.common import metrics
from loanbridge.common.errors import Unavailable
from loanbridge.common.events.consumer import EventConsumer
from loanbridge.common.events.monitor import QueueMonitor
from loanbridge.common.events.relay import OutboxRelay
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)


class Worker:
    """Runs the background parts of one service."""

    def __init__(self, runtime: Runtime, *, extra_loops: list[Callable[[threading.Event], None]] | None = None):
        self.runtime = runtime
        self.stop = threading.Event()
        self.relay = OutboxRelay(runtime, self.stop)
        self.consumer = EventConsumer(runtime, self.stop) if runtime.spec.subscriptions else None
        self.monitor = QueueMonitor(runtime, self.stop, consumes=self.consumer is not None)
        self.extra_loops = extra_loops or []

    def ready(self) -> tuple[bool, str]:
        """Ready when the database answers and the relay (and consumer) hold a broker connection."""
        try:
            self.runtime.database.ping()
        except Unavailable:
            return False, "database_unavailable"
        if not self.relay.connected.is_set():
            return False, "broker_unavailable"
        if self.consumer is not None and not self.consumer.connected.is_set():
            return False, "broker_unavailable"
        return True, "ready"

    def run(self, *, port: int, host: str = "127.0.0.1") -> None:
        """Start every part and the health server; block until a signal stops them."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        server = ThreadingHTTPServer((host, port), _health_handler(self))
        server.daemon_threads = True
        threads = [threading.Thread(target=server.serve_forever, name="health", daemon=True)]
        loops: list[tuple[str, Callable[[], None]]] = [
            ("relay", self.relay.run),
            ("monitor", self.monitor.run),
        ]
        if self.consumer is not None:
            loops.append(("consumer", self.consumer.run))
        loops += [
            (getattr(getattr(loop, "func", loop), "__name__", "loop"), partial(loop, self.stop))
            for loop in self.extra_loops
        ]
        threads += [threading.Thread(target=target, name=name) for name, target in loops]
        for thread in threads:
            thread.start()
        log.info("worker_started", port=port, parts=[name for name, _ in loops])
        self.stop.wait()
        log.info("worker_stopping")
        server.shutdown()
        for thread in threads[1:]:
            thread.join(timeout=15)
        self.runtime.database.dispose()


def _health_handler(worker: Worker) -> type[BaseHTTPRequestHandler]:
    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._json(200, {"status": "ok", "service": worker.runtime.name, "process": "worker"})
            elif self.path == "/readyz":
                ready, reason = worker.ready()
                self._json(200 if ready else 503, {"status": reason, "service": worker.runtime.name})
            elif self.path == "/metrics":
                body, content_type = metrics.render()
                self._send(200, body, content_type)
            else:
                self._json(404, {"code": "not_found", "message": "资源不存在", "details": {}})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return HealthHandler
