"""The embedded mode: every service in one process on one port, SQLite per service under var/, no broker.

``loanbridge run`` (``make run``) migrates every database, starts one outbox dispatcher per subscribing service
and serves every API through one WSGI router with waitress, in the foreground until Ctrl-C or SIGTERM:

- ``/api/<service>/…`` (and ``/dashboard/…``, reporting's) go to that service's Flask app, unchanged;
- ``/internal/<service>/v1/…`` reach a service's internal endpoints as ``/internal/v1/…`` (service tokens only);
- ``/healthz``, ``/readyz`` (every database answers) and ``/metrics`` answer for the whole process.

Secrets are generated once into ``var/secrets.env``, as for ``loanbridge up``.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
from flask import Flask, Response, jsonify

from loanbridge.common import metrics, stack
from loanbridge.common import service as services
from loanbridge.common.config import PREFIX, Env
from loanbridge.common.db import migrate_engine
from loanbridge.common.errors import Unavailable
from loanbridge.common.events.dispatcher import Dispatcher, report_lag
from loanbridge.common.runtime import Runtime

log = structlog.get_logger(__name__)

LAG_REPORT_INTERVAL = 5.0
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def embedded_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Defaults of the embedded mode: SQLite files under var/embedded/, no broker, the local secrets."""
    env = dict(os.environ if environ is None else environ)
    var_dir = Path(Env(env).get("VAR_DIR", "var") or "var").resolve()
    env.setdefault(PREFIX + "DATABASE_URL", f"sqlite:///{var_dir}/embedded/{{service}}.db")
    env.pop(PREFIX + "BROKER_URL", None)
    for name, value in stack.local_secrets(var_dir).items():
        env.setdefault(PREFIX + name, value)
    env[PREFIX + "MODE"] = "embedded"
    return env


class Suite:
    """Every installed service's runtime and app, in one process."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.runtimes = {name: Runtime(spec, environ=environ) for name, spec in services.discover().items()}
        for runtime in self.runtimes.values():
            migrate_engine(runtime.database.engine, runtime.spec.migrations)
        self.apps = {name: runtime.spec.create_app(runtime) for name, runtime in self.runtimes.items()}
        self._share_identity_keys()
        self.stop = threading.Event()
        self.dispatchers = [
            Dispatcher(runtime, self.runtimes, self.stop)
            for runtime in self.runtimes.values()
            if runtime.spec.subscriptions
        ]
        for dispatcher in self.dispatchers:
            for runtime in self.runtimes.values():
                runtime.outbox_listeners.append(dispatcher.wake)

    def _share_identity_keys(self) -> None:
        """Every service verifies tokens with identity's own keys, read in-process rather than over HTTP."""
        identity = self.runtimes.get("identity")
        if identity is None:
            return
        for name, runtime in self.runtimes.items():
            if name != "identity":
                runtime.use_key_source(identity.verifier.key_source)

    def start_background(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=d.run, name=f"dispatch-{d.subscriber.name}") for d in self.dispatchers]
        threads.append(threading.Thread(target=self._report_lag, name="lag"))
        threads += [
            threading.Thread(target=loop, args=(runtime, self.stop), name=f"{name}-background")
            for name, runtime in self.runtimes.items()
            for loop in runtime.spec.worker_loops
        ]
        for thread in threads:
            thread.start()
        return threads

    def _report_lag(self) -> None:
        while not self.stop.wait(LAG_REPORT_INTERVAL):
            for dispatcher in self.dispatchers:
                try:
                    report_lag(dispatcher.subscriber, self.runtimes)
                except Exception as exc:  # a gauge must never stop delivery
                    log.warning("lag_report_failed", error=type(exc).__name__)

    def ready(self) -> None:
        for runtime in self.runtimes.values():
            runtime.database.ping()

    def wsgi(self) -> WSGIApp:
        return Router(self.apps, root=health_app(self))

    def close(self) -> None:
        self.stop.set()
        for runtime in self.runtimes.values():
            runtime.database.dispose()


class Router:
    """Sends each request to its service's app by path prefix, the paths unchanged (as the gateway does)."""

    def __init__(self, apps: dict[str, Flask], *, root: WSGIApp) -> None:
        self.root = root
        self.public = [(f"/api/{name}/", app) for name, app in apps.items()]
        if "reporting" in apps:
            self.public.append(("/dashboard/", apps["reporting"]))
        self.internal = {name: app for name, app in apps.items()}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.public:
            if path.startswith(prefix) or path == prefix.rstrip("/"):
                return app(environ, start_response)
        if path.startswith("/internal/"):
            service, _, rest = path[len("/internal/") :].partition("/")
            internal = self.internal.get(service)
            if internal is not None:
                return internal({**environ, "PATH_INFO": f"/internal/{rest}"}, start_response)
        return self.root(environ, start_response)


def health_app(suite: Suite) -> Flask:
    """The process's own /healthz, /readyz and /metrics, and a JSON 404 for anything else."""
    app = Flask("loanbridge.embedded", root_path=str(Path(__file__).parent))

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return jsonify({"status": "ok", "mode": "embedded", "services": sorted(suite.runtimes)}), 200

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            suite.ready()
        except Unavailable as exc:
            return jsonify({"status": "unavailable", "reason": exc.code}), 503
        return jsonify({"status": "ready", "mode": "embedded"}), 200

    @app.get("/metrics")
    def metrics_page() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    @app.errorhandler(404)
    def not_found(_error: Exception) -> tuple[Response, int]:
        return jsonify({"code": "not_found", "message": "资源不存在", "details": {}}), 404

    return app


def run(*, host: str, port: int, threads: int = 4) -> None:
    """Serve every service in this process until SIGTERM or Ctrl-C."""
    from waitress import create_server

    os.environ.update(embedded_environment())
    suite = Suite(dict(os.environ))
    background = suite.start_background()
    server = create_server(suite.wsgi(), host=host, port=port, threads=threads, ident="loanbridge")

    def shut_down(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, shut_down)
    log.info("embedded_started", url=f"http://{host}:{port}", services=sorted(suite.runtimes))
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        log.info("embedded_stopping")
    finally:
        server.close()
        suite.close()
        for thread in background:
            thread.join(timeout=10)
