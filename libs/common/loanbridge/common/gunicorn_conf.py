"""gunicorn settings for ``loanbridge web``: threaded workers, JSON logs, multiprocess metrics."""

from prometheus_client import multiprocess

worker_class = "gthread"
threads = 4
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
preload_app = False  # nothing may connect before the fork


def child_exit(_server, worker):
    multiprocess.mark_process_dead(worker.pid)
