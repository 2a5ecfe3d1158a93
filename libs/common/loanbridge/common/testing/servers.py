"""Database servers of our own, for benchmarks and fault runs that must size or kill their server.

The machine's shared MariaDB is never reconfigured, stopped or killed: ``OwnMariaDB`` initialises a data folder of
its own with Debian's ``mariadb-install-db``, starts ``mariadbd`` on its own port and socket with the settings it
is given (a buffer pool sized to the data, say), and ends only that process, by its id.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"


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


def _user() -> str:
    """mariadbd refuses to run as root unless told to; it then keeps running as root."""
    return "root" if os.geteuid() == 0 else os.environ.get("USER", "mysql")
