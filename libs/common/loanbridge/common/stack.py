"""The distributed mode on one machine: ``loanbridge up`` starts every service's web (gunicorn) and worker in
their own processes plus nginx as the gateway; ``loanbridge down`` stops them.

Processes are detached (their own session), write logs to ``var/log/<name>.log`` and their pid to
``var/run/<name>.pid``. Ports: gateway ``LOANBRIDGE_GATEWAY_PORT`` (8080); service n (in start order, from 1)
serves its web on ``LOANBRIDGE_WEB_PORT_BASE`` + n (8101…) and its worker's health and metrics on
``LOANBRIDGE_WORKER_PORT_BASE`` + n (8201…).
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from loanbridge.common.config import PREFIX, Env

DEFAULT_DATABASE_URL = "mysql+pymysql://root@127.0.0.1:3306/loanbridge_{service}"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
GENERATED_SECRETS = ("PII_KEK", "BLIND_INDEX_KEY")
DEFAULT_GATEWAY_TEMPLATE = Path("deploy/gateway/nginx.conf.template")


@dataclass(frozen=True)
class Layout:
    """Where the processes of one stack listen and keep their files."""

    services: tuple[str, ...]
    var_dir: Path
    gateway_port: int = 8080
    web_port_base: int = 8100
    worker_port_base: int = 8200
    web_workers: int = 3

    @classmethod
    def from_env(cls, services: Iterable[str], environ: Mapping[str, str] | None = None) -> Layout:
        env = Env(environ)
        return cls(
            services=tuple(services),
            var_dir=Path(env.get("VAR_DIR", "var") or "var").resolve(),
            gateway_port=env.integer("GATEWAY_PORT", 8080),
            web_port_base=env.integer("WEB_PORT_BASE", 8100),
            worker_port_base=env.integer("WORKER_PORT_BASE", 8200),
            web_workers=env.integer("WEB_WORKERS", 3),
        )

    def web_port(self, service: str) -> int:
        return self.web_port_base + self.services.index(service) + 1

    def worker_port(self, service: str) -> int:
        return self.worker_port_base + self.services.index(service) + 1

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)


def stack_environment(layout: Layout, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every process of the stack gets: the caller's, plus defaults for a local machine."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault(PREFIX + "DATABASE_URL", DEFAULT_DATABASE_URL)
    env.setdefault(PREFIX + "BROKER_URL", DEFAULT_BROKER_URL)
    if "identity" in layout.services:
        env.setdefault(PREFIX + "JWKS_URL", f"http://127.0.0.1:{layout.web_port('identity')}/api/identity/v1/jwks")
    for name, value in local_secrets(layout.var_dir).items():
        env.setdefault(PREFIX + name, value)
    return env


def local_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """Settings a command on this machine falls back to: the local servers (or, with ``LOANBRIDGE_MODE=embedded``,
    the embedded mode's SQLite files), and the secrets ``loanbridge up`` or ``run`` generated. A real deployment
    sets all of these itself."""
    var_dir = Path(Env(environ).get("VAR_DIR", "var") or "var")
    if Env(environ).get("MODE") == "embedded":
        defaults = {PREFIX + "DATABASE_URL": f"sqlite:///{var_dir.resolve()}/embedded/{{service}}.db"}
    else:
        defaults = {PREFIX + "DATABASE_URL": DEFAULT_DATABASE_URL, PREFIX + "BROKER_URL": DEFAULT_BROKER_URL}
    defaults.update({PREFIX + name: value for name, value in file_secrets(environ).items()})
    return {name: value for name, value in defaults.items() if not environ.get(name)}


def read_secrets(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name and value:
                values[name.removeprefix(PREFIX)] = value
    return values


def file_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """What ``var/secrets.env`` of this environment's ``LOANBRIDGE_VAR_DIR`` holds, by name without the prefix."""
    return read_secrets(Path(Env(environ).get("VAR_DIR", "var") or "var") / "secrets.env")


def local_secrets(var_dir: Path) -> dict[str, str]:
    """Secrets of a local stack, generated once into var/secrets.env (a real deployment sets its own)."""
    path = var_dir / "secrets.env"
    values = read_secrets(path)
    missing = [name for name in GENERATED_SECRETS if name not in values]
    if missing:
        for name in missing:
            values[name] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        var_dir.mkdir(parents=True, exist_ok=True)
        write_secrets(path, values)
    return values


def write_secrets(path: Path, values: Mapping[str, str]) -> None:
    """``values`` (names without the prefix) as a secrets file, readable by its owner only."""
    path.write_text("".join(f"{PREFIX}{name}={value}\n" for name, value in values.items()))
    path.chmod(0o600)


def secrets_from_file(environ: Mapping[str, str]) -> set[str]:
    """The names (without the prefix) whose value in ``environ`` is the one ``var/secrets.env`` holds: the
    settings a process took from the file, directly or through ``loanbridge up``."""
    return {name for name, value in file_secrets(environ).items() if environ.get(PREFIX + name) == value}


def refresh_secrets(environ: MutableMapping[str, str], taken: set[str]) -> set[str]:
    """Read ``var/secrets.env`` again into ``environ`` (a web's SIGHUP: a new KEK during a key rotation). A name
    in ``taken`` (it came from the file) takes the file's value now, or is removed when the file no longer has it;
    a name the file adds is set unless ``environ`` has it; a value set otherwise stays, as at start. Returns the
    names now taken from the file."""
    values = file_secrets(environ)
    for name in taken - set(values):
        environ.pop(PREFIX + name, None)
    now_taken = set()
    for name, value in values.items():
        if name in taken or not environ.get(PREFIX + name):
            environ[PREFIX + name] = value
            now_taken.add(name)
    return now_taken


def plan(layout: Layout) -> list[Process]:
    """Every process of the stack, in start order: each service's web and worker, then the gateway."""
    cli = [sys.executable, "-m", "loanbridge.common.cli"]
    processes: list[Process] = []
    for service in layout.services:
        web_port, worker_port = layout.web_port(service), layout.worker_port(service)
        processes.append(
            Process(
                name=f"{service}-web",
                argv=[
                    *cli,
                    "web",
                    service,
                    "--bind",
                    f"127.0.0.1:{web_port}",
                    "--workers",
                    str(layout.web_workers),
                ],
                ready_url=f"http://127.0.0.1:{web_port}/readyz",
            )
        )
        processes.append(
            Process(
                name=f"{service}-worker",
                argv=[*cli, "worker", service, "--port", str(worker_port)],
                ready_url=f"http://127.0.0.1:{worker_port}/readyz",
            )
        )
    processes.append(
        Process(
            name="gateway",
            argv=[
                nginx_binary(),
                "-p",
                str(layout.var_dir / "gateway"),
                "-c",
                str(gateway_config_path(layout)),
                "-e",
                str(layout.log_dir / "gateway-error.log"),
                "-g",
                "daemon off;",
            ],
            ready_url=f"{layout.gateway_url}/api/identity/v1/jwks" if "identity" in layout.services else "",
        )
    )
    return processes


def nginx_binary() -> str:
    """nginx's path (Debian installs it in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin") or "nginx"


def require_nginx() -> None:
    if not Path(nginx_binary()).is_absolute():
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx); the gateway needs it")


def gateway_config_path(layout: Layout) -> Path:
    return layout.var_dir / "gateway" / "nginx.conf"


def render_gateway(layout: Layout, template: Path, environ: Mapping[str, str] | None = None) -> Path:
    """Fill the gateway template with this stack's ports and write it under var/gateway/."""
    env = Env(environ)
    upstreams = "\n".join(
        f"    upstream {service} {{ server 127.0.0.1:{layout.web_port(service)}; keepalive 64; }}"
        for service in layout.services
    )
    routes = [
        f"        location /api/{service}/ {{ client_max_body_size {_body_limit(service, env)}; "
        f"proxy_pass http://{service}; }}"
        for service in layout.services
    ]
    if "reporting" in layout.services:
        routes.append("        location /dashboard/ { proxy_pass http://reporting; }")
    tmp_dir = layout.var_dir / "gateway" / "tmp"
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_dir / sub).mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "RUN_DIR": str(layout.run_dir),
        "LOG_DIR": str(layout.log_dir),
        "TMP_DIR": str(tmp_dir),
        "USER_DIRECTIVE": f"user {getpass.getuser()};" if os.geteuid() == 0 else "",
        "BODY_LIMIT": env.get("GATEWAY_BODY_LIMIT", "1m") or "1m",
        "RATE_PER_SECOND": str(env.integer("GATEWAY_RATE_PER_SECOND", 1000)),
        "RATE_BURST": str(env.integer("GATEWAY_RATE_BURST", 2000)),
        "LISTEN": f"127.0.0.1:{layout.gateway_port}",
        "UPSTREAMS": upstreams,
        "ROUTES": "\n".join(routes),
    }
    text = template.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    path = gateway_config_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _body_limit(service: str, env: Env) -> str:
    # intake takes document uploads; every other API takes small JSON bodies.
    if service == "intake":
        return env.get("GATEWAY_UPLOAD_LIMIT") or "20m"
    return "1m"


def pid_path(layout: Layout, name: str) -> Path:
    return layout.run_dir / f"{name}.pid"


def running_pid(layout: Layout, name: str) -> int | None:
    """The pid of a stack process that is alive, else None."""
    path = pid_path(layout, name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def start(layout: Layout, process: Process, env: Mapping[str, str]) -> int:
    """Start one process detached, unless it already runs; return its pid."""
    existing = running_pid(layout, process.name)
    if existing is not None:
        return existing
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    with open(layout.log_dir / f"{process.name}.log", "ab") as log_file:
        child = subprocess.Popen(
            process.argv,
            env={**env, **process.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_path(layout, process.name).write_text(str(child.pid))
    return child.pid


def wait_ready(processes: Iterable[Process], *, timeout: float = 60.0) -> list[str]:
    """Wait until every process answers its readiness URL; return the names that did not."""
    deadline = time.monotonic() + timeout
    waiting = [process for process in processes if process.ready_url]
    while waiting and time.monotonic() < deadline:
        still = []
        for process in waiting:
            try:
                if requests.get(process.ready_url, timeout=1).status_code != 200:
                    still.append(process)
            except requests.RequestException:
                still.append(process)
        waiting = still
        if waiting:
            time.sleep(0.3)
    return [process.name for process in waiting]


def stop(layout: Layout, name: str, *, timeout: float = 20.0) -> bool:
    """SIGTERM a stack process (its whole process group), SIGKILL it after ``timeout``; True if it ran."""
    pid = running_pid(layout, name)
    pid_path(layout, name).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped) counts as gone, and is reaped if ours."""
    with contextlib.suppress(ChildProcessError):
        finished, _status = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    fields = proc_stat(pid)
    return fields is None or fields[0] != "Z"


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command (state, parent pid, …); None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def parent_of(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[1]) if fields else None


def children_of(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (a gunicorn master's workers)."""
    return {
        int(path.name)
        for path in Path("/proc").glob("[0-9]*")
        if path.name.isdigit() and parent_of(int(path.name)) == pid
    }
