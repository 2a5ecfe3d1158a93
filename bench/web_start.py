"""What starting a web costs, and what a full garbage collection costs in one of its workers.

    .venv/bin/python bench/web_start.py [--service intake] [--workers 3]

Starts ``loanbridge web <service>`` (gunicorn with loanbridge's settings) on SQLite files in a temporary folder,
waits until it answers /healthz and its workers have opened their connections, and prints the CPU its master
and each worker spent starting (/proc): a SIGHUP reload, one step of a rolling restart, pays the workers' part
again. Then, in this process, it builds the same service's app and times a full collection over it, before and
after ``gc.freeze()`` (what each web worker does once warm, ``loanbridge.common.gunicorn_conf``): that walk is
how long a collection holds both threads of a worker, longer on a busy machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loanbridge.common import stack  # noqa: E402
from loanbridge.common.testing import harness  # noqa: E402
from loanbridge.common.testing.waiting import wait_until  # noqa: E402

SETTLE_SECONDS = 4.0  # after the first answer, for every worker to finish its warm-up


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def measure_start(service: str, workers: int, environ: dict[str, str]) -> None:
    port = free_port()
    command = [sys.executable, "-m", "loanbridge.common.cli", "web", service, "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers)]  # fmt: skip
    started = time.monotonic()
    web = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=120, message="the web answers")
        first_answer = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)
        spent = sorted(cpu_seconds(pid) for pid in stack.children_of(web.pid))
        print(f"{service} web, {workers} workers: first answer after {first_answer:.1f} s")
        print(f"  master CPU (the command, then gunicorn and the shared libraries): {cpu_seconds(web.pid):.2f} s")
        print(f"  each worker's CPU to start: {', '.join(f'{seconds:.2f}' for seconds in spent)} s")
    finally:
        web.terminate()
        web.wait(timeout=30)


def measure_collection(service: str, environ: dict[str, str]) -> None:
    from loanbridge.common import wsgi

    os.environ.update(environ)
    wsgi.create(service)
    timings = []
    for _ in range(3):
        began = time.perf_counter()
        gc.collect()
        timings.append((time.perf_counter() - began) * 1000)
    objects = len(gc.get_objects())
    gc.freeze()
    began = time.perf_counter()
    gc.collect()
    frozen = (time.perf_counter() - began) * 1000
    walk = f"{min(timings):.0f}-{max(timings):.0f} ms"
    print(f"{service} app in process ({objects:,} objects): a full collection {walk}; frozen {frozen:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", default="intake")
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        environ = {**os.environ, **harness.environment_for_tests(Path(tmp)), "LOANBRIDGE_VAR_DIR": f"{tmp}/var"}
        measure_start(args.service, args.workers, environ)
        measure_collection(args.service, environ)


if __name__ == "__main__":
    main()
