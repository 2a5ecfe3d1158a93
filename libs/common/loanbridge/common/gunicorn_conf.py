"""gunicorn settings for ``loanbridge web``: threaded workers, JSON logs, multiprocess metrics.

Two threads per worker process: a request spends much of its time waiting for the database, so one more thread
overlaps that wait; more threads only fight over the GIL (measured: 4 threads cost 40% more CPU per request).
Scale with worker processes (``--workers``, ``LOANBRIDGE_WEB_WORKERS``) instead."""

from prometheus_client import multiprocess

worker_class = "gthread"
threads = 2
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
preload_app = False  # nothing may connect before the fork


def child_exit(_server, worker):
    multiprocess.mark_process_dead(worker.pid)
