"""A web reloaded with SIGHUP takes the secrets file afresh (a new KEK during a key rotation) and drops no
request meanwhile: gunicorn keeps its socket, and each old worker serves until a new one has loaded the app and
opened its connections."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from loanbridge.common import stack
from loanbridge.common.db import Database
from loanbridge.common.stack import children_of, refresh_secrets, secrets_from_file
from loanbridge.common.wsgi import warm_up

IMPORT_SECONDS = 3.0  # loading the app takes this long (a busy machine); the old workers serve meanwhile
APP = f"""
import gc, json, os, time

time.sleep({IMPORT_SECONDS})

def app(environ, start_response):
    names = ("LOANBRIDGE_PII_KEK", "LOANBRIDGE_PII_KEK_PREVIOUS", "LOANBRIDGE_BLIND_INDEX_KEY")
    env = {{name: os.environ.get(name) for name in names}}
    body = json.dumps({{"pid": os.getpid(), "frozen_objects": gc.get_freeze_count(), **env}}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""


def write_secrets(var_dir: Path, **values: str) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    stack.write_secrets(var_dir / "secrets.env", values)


def test_refresh_takes_what_came_from_the_file_and_keeps_what_the_caller_set(tmp_path: Path) -> None:
    write_secrets(tmp_path, PII_KEK="old", BLIND_INDEX_KEY="file-index")
    environ = {
        "LOANBRIDGE_VAR_DIR": str(tmp_path),
        "LOANBRIDGE_PII_KEK": "old",  # from the file, through `loanbridge up`
        "LOANBRIDGE_BLIND_INDEX_KEY": "operator-index",  # set by the operator: the environment wins
    }
    taken = secrets_from_file(environ)
    assert taken == {"PII_KEK"}

    write_secrets(tmp_path, PII_KEK="new", PII_KEK_PREVIOUS="old", BLIND_INDEX_KEY="file-index-2")
    taken = refresh_secrets(environ, taken)
    assert environ["LOANBRIDGE_PII_KEK"] == "new"
    assert environ["LOANBRIDGE_PII_KEK_PREVIOUS"] == "old"
    assert environ["LOANBRIDGE_BLIND_INDEX_KEY"] == "operator-index"
    assert taken == {"PII_KEK", "PII_KEK_PREVIOUS"}

    write_secrets(tmp_path, PII_KEK="new", BLIND_INDEX_KEY="file-index-2")
    taken = refresh_secrets(environ, taken)
    assert "LOANBRIDGE_PII_KEK_PREVIOUS" not in environ
    assert environ["LOANBRIDGE_PII_KEK"] == "new"
    assert taken == {"PII_KEK"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """gunicorn with loanbridge's settings (two workers), serving an app that shows its secrets; stopped by pid."""
    (tmp_path / "envapp.py").write_text(APP)
    var_dir = tmp_path / "var"
    write_secrets(var_dir, PII_KEK="kek-1", BLIND_INDEX_KEY="index-file")
    (tmp_path / "metrics").mkdir()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOANBRIDGE_")},
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "LOANBRIDGE_VAR_DIR": str(var_dir),
        "LOANBRIDGE_PII_KEK": "kek-1",
        "LOANBRIDGE_BLIND_INDEX_KEY": "index-operator",
    }
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:loanbridge.common.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "envapp:app"]  # fmt: skip
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url, timeout=10)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline and process.poll() is None, "gunicorn did not start"
            time.sleep(0.1)
    try:
        yield process, url, var_dir
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_sighup_reloads_the_secrets_file_and_old_workers_serve_until_new_ones_are_up(web: Any) -> None:
    process, url, var_dir = web
    answers: Counter[str] = Counter()
    seen: list[tuple[float, float, dict[str, Any]]] = []  # (sent, latency, body)
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()  # kept-alive connections, as the gateway's
        while not stop.is_set():
            sent = time.monotonic()
            try:
                answer = session.get(url, timeout=10)
                answers[str(answer.status_code)] += 1
                seen.append((sent, time.monotonic() - sent, answer.json()))
            except requests.RequestException as exc:
                answers[type(exc).__name__] += 1
            time.sleep(0.005)

    def reload(expect: str, value: str | None) -> None:
        old = children_of(process.pid)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while not (seen and seen[-1][2][expect] == value and children_of(process.pid).isdisjoint(old)):
            assert time.monotonic() < deadline, f"not reloaded: {expect} is {seen[-1][2][expect]}"
            time.sleep(0.1)
        assert len(children_of(process.pid)) == 2

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(0.5)
        write_secrets(var_dir, PII_KEK="kek-2", PII_KEK_PREVIOUS="kek-1", BLIND_INDEX_KEY="index-file")
        reload("LOANBRIDGE_PII_KEK", "kek-2")
        write_secrets(var_dir, PII_KEK="kek-2", BLIND_INDEX_KEY="index-file")
        reload("LOANBRIDGE_PII_KEK_PREVIOUS", None)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in clients:
            thread.join()

    assert set(answers) == {"200"}, answers
    assert answers["200"] > 200, answers
    slowest = max(latency for _sent, latency, _body in seen)
    assert slowest < IMPORT_SECONDS * 0.75, f"a request waited {slowest:.2f} s: nobody served while the app loaded"
    last = dict(seen[-1][2])
    assert last.pop("frozen_objects") > 10_000, "the worker did not freeze what it loaded"
    assert last | {"pid": 0} == {
        "pid": 0,
        "LOANBRIDGE_PII_KEK": "kek-2",
        "LOANBRIDGE_PII_KEK_PREVIOUS": None,
        "LOANBRIDGE_BLIND_INDEX_KEY": "index-operator",  # set by the caller, not from the file: kept
    }


# --- a new worker opens its connections before it takes a request --------------------------------------------------


class CountingKeys:
    def __init__(self) -> None:
        self.fetched = 0

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        self.fetched += 1
        return {}


def test_warm_up_opens_a_connection_per_thread_on_each_pool_and_fetches_the_token_keys(database: Database) -> None:
    keys = CountingKeys()
    runtime = SimpleNamespace(name="demo", database=database, verifier=SimpleNamespace(key_source=keys))

    assert warm_up(runtime, connections=2)  # type: ignore[arg-type]

    assert database.engine.pool.checkedin() == 2
    assert keys.fetched == 1


def test_warm_up_gives_up_on_a_database_that_does_not_answer_and_leaves_it_to_the_requests() -> None:
    unreachable = Database(f"mysql+pymysql://nobody@127.0.0.1:{free_port()}/nothing")
    runtime = SimpleNamespace(name="demo", database=unreachable, verifier=SimpleNamespace(key_source=CountingKeys()))

    began = time.monotonic()
    assert not warm_up(runtime, connections=2, seconds=1.0)  # type: ignore[arg-type]
    assert time.monotonic() - began < 5


def modules_loaded_by(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    script = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(output.split())


def test_the_master_loads_the_shared_libraries_and_no_service_before_the_fork() -> None:
    loaded = modules_loaded_by("import loanbridge.common.gunicorn_conf")
    assert {"flask", "sqlalchemy.orm", "marshmallow", "kombu", "pymysql"} <= loaded
    ours = {name for name in loaded if name.startswith("loanbridge.")}
    assert ours == {"loanbridge.common", "loanbridge.common.config", "loanbridge.common.gunicorn_conf",
                    "loanbridge.common.stack"}  # fmt: skip


def test_a_worker_loads_only_its_own_service() -> None:
    loaded = modules_loaded_by("from loanbridge.common import service; service.get('workflow')")
    assert "loanbridge.workflow.app" in loaded
    assert not {"loanbridge.identity", "loanbridge.intake", "loanbridge.reporting", "loanbridge.risk"} & loaded
