"""Database and broker servers of our own, for benchmarks and fault runs that must size or kill their server.

The machine's shared MariaDB and RabbitMQ are never reconfigured, stopped or killed: ``OwnMariaDB`` initialises a
data folder of its own with Debian's ``mariadb-install-db``, starts ``mariadbd`` on its own port and socket with
the settings it is given (a buffer pool sized to the data, say), and ends only that process, by its id.
``OwnRabbitMQ`` starts a RabbitMQ node of its own (its own node name, AMQP and distribution ports, data, logs,
config and Erlang cookie in its folder, no plugins) and ends only that node's ``beam.smp``, by the pid the node
itself reports.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"
# The scripts themselves, not /usr/sbin's wrappers (those switch to the rabbitmq user and the shared node's cookie).
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnMariaDB:
    """A ``mariadbd`` in ``folder`` on 127.0.0.1:``port``, user root without a password (local tests only)."""

    def __init__(self, folder: Path, *, port: int | None = None, options: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.options = options or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """A SQLAlchemy URL template with ``{service}`` left for the service's database name."""
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/lbown_{{service}}"

    def start(self, timeout: float = 60.0) -> OwnMariaDB:
        data = self.folder / "data"
        if not data.exists():
            data.mkdir(parents=True)
            subprocess.run(
                [INSTALL_DB, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
                 "--skip-test-db", f"--user={_user()}"],
                check=True, capture_output=True,
            )  # fmt: skip
        arguments = [
            MARIADBD,
            "--no-defaults",
            f"--datadir={data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.folder / 'mariadbd.sock'}",
            f"--pid-file={self.folder / 'mariadbd.pid'}",
            f"--log-error={self.folder / 'error.log'}",
            f"--user={_user()}",
            *(f"--{name}={value}" for name, value in self.options.items()),
        ]
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_answering(timeout)
        return self

    def _wait_until_answering(self, timeout: float) -> None:
        import pymysql

        deadline = time.monotonic() + timeout
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
                return
            except pymysql.err.OperationalError:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"mariadbd exited: see {self.folder / 'error.log'}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mariadbd on port {self.port} did not answer in {timeout:.0f}s") from None
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL our server (a crash: InnoDB recovers on the next ``start``) and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """End our server (SIGTERM, then SIGKILL after 30 s); its data folder stays unless removed."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> OwnMariaDB:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class OwnRabbitMQ:
    """A RabbitMQ node ``lbchaos-<pid>-<n>@localhost`` in ``folder`` on 127.0.0.1:``port``, user guest (loopback
    only, as by default). ``kill`` SIGKILLs it as a crash would; ``start`` again recovers the same data."""

    _made = 0

    def __init__(self, folder: Path, *, port: int | None = None, dist_port: int | None = None) -> None:
        OwnRabbitMQ._made += 1
        self.folder = folder
        self.port = port or free_port()
        self.dist_port = dist_port or free_port()
        self.node = f"lbchaos-{os.getpid()}-{OwnRabbitMQ._made}@localhost"
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None  # the node's beam.smp

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def url(self, vhost: str = "/") -> str:
        from urllib.parse import quote

        return f"amqp://guest:guest@127.0.0.1:{self.port}/{quote(vhost, safe='')}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of the node and of ``rabbitmqctl`` against it (HOME holds the node's own cookie)."""
        return {
            **os.environ,
            "HOME": str(self.folder),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.folder / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.folder / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.folder / "beam.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self, timeout: float = 90.0) -> OwnRabbitMQ:
        """Start the node (or start it again after ``kill``) and wait until it answers AMQP and rabbitmqctl."""
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
        (self.folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "management.disable_stats = true\n"
            "log.console = false\n"
            "log.file.level = warning\n"
        )
        (self.folder / "rabbitmq-env.conf").write_text("")
        (self.folder / "enabled_plugins").write_text("[].\n")
        with open(self.folder / "server.out", "ab") as out:
            self.process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_until_answering(timeout)
        self.pid = int(self.ctl("eval", "list_to_integer(os:getpid()).").strip())
        return self

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <our node> <args>``; fails with its output if it fails."""
        result = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: see {self.folder / 'server.out'} and log/")
            try:
                with socket.create_connection(self.address, timeout=1):
                    pass
                self.ctl("await_startup", timeout=30)
                return
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"RabbitMQ node {self.node} did not start in {timeout:.0f}s") from None
                time.sleep(0.5)

    def kill(self) -> None:
        """SIGKILL the node's beam.smp (a crash: no clean shutdown) and wait until it is gone."""
        if self.pid is None:
            return
        with suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        self.pid = None

    def stop(self) -> None:
        """Stop our node cleanly (``rabbitmqctl stop``), SIGKILL it if that fails."""
        if self.pid is None:
            return
        try:
            self.ctl("stop", timeout=60)
            if self.process is not None:
                self.process.wait(timeout=30)
            self.pid = None
        except (RuntimeError, subprocess.TimeoutExpired):
            self.kill()

    def __enter__(self) -> OwnRabbitMQ:
        return self.start()

    def __exit__(self, *exc: object | TracebackType) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _user() -> str:
    """mariadbd refuses to run as root unless told to; it then keeps running as root."""
    return "root" if os.geteuid() == 0 else os.environ.get("USER", "mysql")
