"""gunicorn settings for ``loanbridge web``: threaded workers, JSON logs, multiprocess metrics.

Two threads per worker process: a request spends much of its time waiting for the database, so one more thread
overlaps that wait; more threads only fight over the GIL (measured: 4 threads cost 40% more CPU per request).
Scale with worker processes (``--workers``, ``LOANBRIDGE_WEB_WORKERS``) instead.

SIGHUP to the master reloads a web without dropping a request (a rolling restart, e.g. a new KEK during a key
rotation, docs/intake.md): the socket stays open, the master reads ``var/secrets.env`` again (a secret the web took
from that file takes its new value) and forks new workers, and each old worker keeps serving until a new one has
loaded the app, opened its database connections (``wsgi.warm_up``) and stops it (gunicorn alone would stop the
old workers at once, and on a busy machine loading the app takes seconds, during which nobody would answer).

The master imports the libraries every web uses (``SHARED_LIBRARIES``) and nothing of the application: each
worker forks with them loaded and starts on a fraction of the CPU (bench/web_start.py: 0.16-0.31 s instead of
1.00-1.14 s), which is what each worker of a rolling restart costs a machine under load."""

import gc
import importlib
import os
import signal

from prometheus_client import multiprocess

from loanbridge.common import stack

worker_class = "gthread"
threads = 2
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
preload_app = False  # nothing may connect before the fork

SHARED_LIBRARIES = (
    "alembic.command", "cryptography.hazmat.primitives.ciphers.aead", "flask", "flask_smorest", "jsonschema", "jwt",
    "kombu", "marshmallow", "prometheus_client", "pymysql", "requests", "sqlalchemy.orm", "structlog", "tenacity",
)  # fmt: skip
for _library in SHARED_LIBRARIES:
    importlib.import_module(_library)

# State of the master (this module is loaded there): which settings came from var/secrets.env, and the workers
# of a reload still to be given a successor, or still to stop.
_from_secrets_file = stack.secrets_from_file(os.environ)
_without_successor: list[int] = []
_replaced: set[int] = set()


def on_reload(server):
    """In the master on SIGHUP, before the new workers fork: their settings, and the old workers kept meanwhile."""
    global _from_secrets_file
    _from_secrets_file = stack.refresh_secrets(os.environ, _from_secrets_file)
    current = [pid for pid, _ in sorted(server.WORKERS.items(), key=lambda item: item[1].age)]
    kept = [pid for pid in current if pid not in _replaced][-server.cfg.workers :]
    _without_successor.extend(kept)
    _replaced.update(kept)
    server.num_workers += len(_replaced)


def pre_fork(_server, worker):
    worker.replaces = _without_successor.pop(0) if _without_successor else None


def post_worker_init(worker):
    """In a new worker, its app loaded: open the connections its first requests need, then stop the old worker it
    replaces (if that is still our master's child)."""
    from loanbridge.common import wsgi  # in the worker only: the master imports no application code

    runtime = getattr(worker.wsgi, "extensions", {}).get("loanbridge")
    if runtime is not None:
        wsgi.warm_up(runtime, connections=worker.cfg.threads)
    # The app, its libraries and its warm caches live as long as the worker: frozen, no full garbage collection
    # scans them again. Unfrozen, each full collection held both threads for 105-334 ms (docs/decisions.md).
    gc.freeze()
    old = getattr(worker, "replaces", None)
    if old is not None and stack.parent_of(old) == worker.ppid:
        os.kill(old, signal.SIGTERM)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
    if worker.pid in _replaced:
        _replaced.discard(worker.pid)
        server.num_workers -= 1
    elif getattr(worker, "replaces", None) in _replaced:
        _without_successor.append(worker.replaces)  # died before stopping it: the worker forked next will
