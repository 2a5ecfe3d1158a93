"""The distributed mode under test: a whole LoanBridge stack on the real MariaDB and RabbitMQ, every service in
its own processes, reached through nginx.

Each stack gets its own databases (``lbit_<run>_<service>``) and its own RabbitMQ virtual host, so it never
touches another stack's data; the broker and the database are reached through fault proxies the tests control.
The servers are the machine's (``LOANBRIDGE_TEST_MARIADB_PORT`` …) unless ``running_stack`` is given others (the
chaos runs pass servers of their own, which they may kill).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import sqlalchemy as sa
from moto.server import ThreadedMotoServer
from prometheus_client.parser import text_string_to_metric_families

from loanbridge.common import service as services
from loanbridge.common import stack as stacks
from loanbridge.common.db import drop_database
from loanbridge.common.events.broker import connect
from loanbridge.common.service import SERVICE_ORDER
from loanbridge.common.testing.faultproxy import FaultProxy
from loanbridge.common.testing.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "loanbridge.common.cli"]
MARIADB = ("127.0.0.1", int(os.environ.get("LOANBRIDGE_TEST_MARIADB_PORT", "3306")))
RABBITMQ = ("127.0.0.1", int(os.environ.get("LOANBRIDGE_TEST_RABBITMQ_PORT", "5672")))
MARIADB_USER = os.environ.get("LOANBRIDGE_TEST_MARIADB_USER", "root")
RABBITMQ_USER = os.environ.get("LOANBRIDGE_TEST_RABBITMQ_USER", "guest")
RABBITMQ_PASSWORD = os.environ.get("LOANBRIDGE_TEST_RABBITMQ_PASSWORD", "guest")


def reachable(address: tuple[str, int], timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def missing_requirements() -> list[str]:
    """What the integration suite needs and this machine lacks, each with the reason."""
    missing = []
    if not reachable(MARIADB):
        missing.append(f"MariaDB is not answering on {MARIADB[0]}:{MARIADB[1]}")
    if not reachable(RABBITMQ):
        missing.append(f"RabbitMQ is not answering on {RABBITMQ[0]}:{RABBITMQ[1]}")
    if not Path(stacks.nginx_binary()).is_absolute():
        missing.append("nginx is not installed (apt-get install nginx)")
    if shutil.which("rabbitmqctl") is None:
        missing.append("rabbitmqctl is not installed (the suite makes a virtual host per run)")
    return missing


def free_port_block(size: int) -> int:
    """A base port such that base+1 .. base+size are free, below the kernel's ephemeral range (from 32768 on
    Linux), so no outgoing connection of this machine can take one of them meanwhile."""
    for _ in range(200):
        base = secrets.randbelow(120) * 100 + 20000
        if all(_port_free(base + offset) for offset in range(1, size + 1)):
            return base
    raise RuntimeError("no free block of ports")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Stack:
    """One running LoanBridge in the distributed mode."""

    run_id: str
    var_dir: Path
    broker_proxy: FaultProxy
    database_proxy: FaultProxy
    through_proxies: bool = True
    web_workers: int = 2  # two per service keep a test stack light
    s3_endpoint: str | None = None
    mariadb: tuple[str, int] = MARIADB
    rabbitmq: tuple[str, int] = RABBITMQ
    broker_admin: Callable[..., object] = field(default=lambda *args: rabbitmqctl(*args))  # rabbitmqctl <args>
    layout: stacks.Layout = field(init=False)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        base = free_port_block(30)
        self.env = {
            **os.environ,
            "LOANBRIDGE_VAR_DIR": str(self.var_dir),
            "LOANBRIDGE_DATABASE_URL": self.database_url_template(via_proxy=self.through_proxies),
            "LOANBRIDGE_BROKER_URL": self.broker_url(via_proxy=self.through_proxies),
            "LOANBRIDGE_GATEWAY_PORT": str(base + 30),
            "LOANBRIDGE_WEB_PORT_BASE": str(base),
            "LOANBRIDGE_WORKER_PORT_BASE": str(base + 10),
            "LOANBRIDGE_WEB_WORKERS": str(self.web_workers),
            "LOANBRIDGE_EVENTS_RETRY_DELAYS": "0.2,0.5,1",
            "LOANBRIDGE_EVENTS_DELIVERY_LIMIT": "5",
        }
        if self.s3_endpoint:
            # Documents and imports go to a real S3-compatible server (moto's), as they would to MinIO.
            self.env.update(
                LOANBRIDGE_INTAKE_DOCUMENT_STORE="s3",
                LOANBRIDGE_INTAKE_S3_ENDPOINT_URL=self.s3_endpoint,
                LOANBRIDGE_INTAKE_S3_BUCKET=f"lbit-{self.run_id.replace('_', '-')}",
                LOANBRIDGE_INTAKE_S3_ACCESS_KEY="integration",
                LOANBRIDGE_INTAKE_S3_SECRET_KEY="integration-secret",
            )
        self.env.pop("LOANBRIDGE_JWKS_URL", None)
        self.env.pop("LOANBRIDGE_FAILPOINTS", None)
        self.layout = stacks.Layout.from_env(SERVICE_ORDER, self.env)

    # --- addresses ----------------------------------------------------------------------------------------
    @property
    def vhost(self) -> str:
        return f"lbit_{self.run_id}"

    def database_url_template(self, *, via_proxy: bool) -> str:
        port = self.database_proxy.port if via_proxy else self.mariadb[1]
        return f"mysql+pymysql://{MARIADB_USER}@127.0.0.1:{port}/lbit_{self.run_id}_{{service}}"

    def database_url(self, service: str) -> str:
        return self.database_url_template(via_proxy=False).replace("{service}", service)

    def broker_url(self, *, via_proxy: bool) -> str:
        port = self.broker_proxy.port if via_proxy else self.rabbitmq[1]
        return f"amqp://{RABBITMQ_USER}:{RABBITMQ_PASSWORD}@127.0.0.1:{port}/{quote(self.vhost, safe='')}"

    @property
    def gateway(self) -> str:
        return self.layout.gateway_url

    def web_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.layout.web_port(service)}"

    def worker_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.layout.worker_port(service)}"

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self.broker_admin("add_vhost", self.vhost)
        self.broker_admin("set_permissions", "-p", self.vhost, RABBITMQ_USER, ".*", ".*", ".*")
        self.cli("up", "--gateway-template", str(ROOT / "deploy/gateway/nginx.conf.template"), timeout=240)

    def stop(self) -> None:
        try:
            self.cli("down", timeout=120)
        finally:
            for service in SERVICE_ORDER:
                drop_database(self.database_url(service))
            with suppress(subprocess.SubprocessError, RuntimeError):
                self.broker_admin("delete_vhost", self.vhost)

    def cli(self, *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None) -> str:
        """Run ``loanbridge <args>`` against this stack; fail with its output if it fails."""
        result = subprocess.run(
            [*CLI, *args],
            env={**self.env, **(extra_env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"loanbridge {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-4000:]}")
        return result.stdout

    def process(self, name: str) -> stacks.Process:
        return next(process for process in stacks.plan(self.layout) if process.name == name)

    def pid(self, name: str) -> int | None:
        return stacks.running_pid(self.layout, name)

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send a signal to one stack process (its whole group, as a crash of the container would)."""
        pid = self.pid(name)
        assert pid is not None, f"{name} is not running"
        os.killpg(pid, sig)
        if sig == signal.SIGKILL:
            wait_until(lambda: self.pid(name) is None, timeout=10, message=f"{name} gone")

    def restart(self, name: str, *, extra_env: dict[str, str] | None = None) -> None:
        """Start a stopped process again (with extra settings, e.g. failpoints) and wait until it is ready."""
        if self.pid(name) is not None:
            stacks.stop(self.layout, name)
        process = self.process(name)
        stacks.start(self.layout, process, {**self.env, **(extra_env or {})})
        wait_until(
            lambda: requests.get(process.ready_url, timeout=1).status_code == 200, timeout=60, message=f"{name} ready"
        )

    # --- observation --------------------------------------------------------------------------------------
    def sql(self, service: str, statement: str, **params: Any) -> list[Any]:
        """Query a service's database directly (tests only; no service reads another's database)."""
        engine = sa.create_engine(self.database_url(service))
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(statement), params))
        finally:
            engine.dispose()

    def queue_depth(self, queue: str) -> int:
        """Ready messages in one of this stack's queues, asked of the broker directly."""
        connection = connect(self.broker_url(via_proxy=False))
        try:
            return connection.channel().queue_declare(queue, passive=True).message_count
        finally:
            connection.release()

    def outbox_backlog(self, service: str) -> int:
        return self.sql(service, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")[0][0]

    def drained(self) -> bool:
        """No service has an event left to publish, nor one waiting in its queue (benchmarks measure from here)."""
        consumers = [name for name, spec in services.discover().items() if spec.subscriptions]
        return all(self.outbox_backlog(name) == 0 for name in SERVICE_ORDER) and all(
            self.queue_depth(f"{name}.events") == 0 for name in consumers
        )

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each stack process (a web's gunicorn workers counted with their master, as one
        process group) and by the shared MariaDB and RabbitMQ, from /proc."""
        groups = {pid: process.name for process in stacks.plan(self.layout)
                  if (pid := stacks.running_pid(self.layout, process.name)) is not None}  # fmt: skip
        servers = {"mariadbd": "mariadb", "beam.smp": "rabbitmq"}
        ticks = os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:  # the process ended while we looked
                continue
            command, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
            owner = groups.get(int(fields[2])) or servers.get(command)
            if owner is not None:
                used[owner] = used.get(owner, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        return used

    def metrics(self, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Samples of a /metrics page: {(name, sorted labels): value}."""
        text = requests.get(f"{url}/metrics", timeout=5).text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def metric(self, url: str, name: str, **labels: str) -> float:
        """The sum of a metric's samples whose labels include ``labels``."""
        return sum(
            value
            for (sample, sample_labels), value in self.metrics(url).items()
            if sample == name and set(labels.items()) <= set(sample_labels)
        )


@contextmanager
def running_stack(
    tmp_dir: Path,
    *,
    through_proxies: bool = True,
    web_workers: int = 2,
    mariadb: tuple[str, int] = MARIADB,
    rabbitmq: tuple[str, int] = RABBITMQ,
    broker_admin: Callable[..., object] | None = None,
) -> Iterator[Stack]:
    """A started stack, stopped and dropped afterwards. Benchmarks pass ``through_proxies=False``: the fault
    proxies are Python threads that would cost more CPU than the services they measure. ``mariadb`` and
    ``rabbitmq`` name other servers than the machine's (root without a password, guest), ``broker_admin`` runs
    rabbitmqctl against that broker."""
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    broker_proxy = FaultProxy(upstream=rabbitmq).start()
    database_proxy = FaultProxy(upstream=mariadb).start()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port_block(1) + 1, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    stack = Stack(
        run_id=run_id,
        var_dir=tmp_dir / "var",
        broker_proxy=broker_proxy,
        database_proxy=database_proxy,
        through_proxies=through_proxies,
        web_workers=web_workers,
        s3_endpoint=f"http://{host}:{port}",
        mariadb=mariadb,
        rabbitmq=rabbitmq,
        **({"broker_admin": broker_admin} if broker_admin else {}),
    )
    try:
        stack.start()
        yield stack
    finally:
        try:
            stack.stop()
        finally:
            broker_proxy.stop()
            database_proxy.stop()
            s3.stop()


class Api:
    """HTTP calls through the gateway with a bearer token."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=30, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.put(self.base + path, timeout=30, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.patch(self.base + path, timeout=30, **kwargs)


def password_token(base: str, username: str, password: str) -> str:
    response = requests.post(
        f"{base}/api/identity/v1/token",
        data={"grant_type": "password", "username": username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def client_token(base: str, client_id: str, client_secret: str) -> str:
    response = requests.post(
        f"{base}/api/identity/v1/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@dataclass(frozen=True)
class Partner:
    partner_id: str
    channel: str
    api: Api


def register_partner(stack: Stack, admin: Api, name: str) -> Partner:
    """A partner with its API client, its own channel in intake, and a token."""
    created = admin.post("/api/identity/v1/partners", json={"name": name})
    assert created.status_code == 201, created.text
    body = created.json()
    channel = f"p_{body['partner_id'][:8]}"
    registered = admin.post(
        "/api/intake/v1/channels", json={"code": channel, "name": name, "partner_id": body["partner_id"]}
    )
    assert registered.status_code == 201, registered.text
    token = client_token(stack.gateway, body["client_id"], body["client_secret"])
    return Partner(partner_id=body["partner_id"], channel=channel, api=Api(stack.gateway, token))


def kpi_leads(admin: Api, **filters: str) -> int:
    """Leads counted by reporting's KPIs today (all rows matching the filters)."""
    response = admin.get("/api/reporting/v1/kpis", params=filters)
    assert response.status_code == 200, response.text
    return sum(row["leads"] for row in response.json()["rows"])
