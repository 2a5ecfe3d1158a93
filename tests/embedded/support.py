"""One embedded LoanBridge (``loanbridge run``) in a subprocess: started, killed, restarted by the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa

from loanbridge.common.testing.waiting import wait_until
from tests.integration.support import free_port_block

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "loanbridge.common.cli"]


def free_port() -> int:
    return free_port_block(1) + 1


@dataclass
class EmbeddedProcess:
    """``loanbridge run`` on a free port with its own var folder."""

    var_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gateway(self) -> str:
        """The process serves every API itself, as the gateway would."""
        return self.url

    @property
    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("LOANBRIDGE_")}
        return {
            **env,
            "LOANBRIDGE_VAR_DIR": str(self.var_dir),
            "LOANBRIDGE_MODE": "embedded",
            "LOANBRIDGE_EVENTS_RETRY_DELAYS": "0.2,0.4,0.6",
        }

    def start(self, *, extra_env: dict[str, str] | None = None) -> None:
        self.starts += 1
        log = open(self.var_dir.parent / f"run-{self.starts}.log", "wb")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [*CLI, "run", "--port", str(self.port)],
            env={**self.env, **(extra_env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, timeout=60, message="loanbridge run answers /healthz")

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "loanbridge run exited"
        return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def cli(self, *args: str) -> str:
        result = subprocess.run([*CLI, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"loanbridge {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
        return result.stdout

    def sql(self, service: str, statement: str, **params: object) -> list:
        engine = sa.create_engine(f"sqlite:///{self.var_dir}/embedded/{service}.db")
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(statement), params))
        finally:
            engine.dispose()
