"""Headless Chromium for tests: find it (skip on a developer's machine without it, fail in CI), drive it over the
DevTools protocol on --remote-debugging-pipe (no extra Python package), and keep screenshots as test artefacts
(``test-artifacts/``, or ``LOANBRIDGE_TEST_ARTIFACTS``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from loanbridge.common.events.schemas import repository_root

# The dashboard's charts (reporting's static page): each must have drawn data points.
DASHBOARD_CHARTS = ("chart-funnel", "chart-conversion", "chart-roi", "chart-overdue", "chart-trends",
                    "chart-approvals")  # fmt: skip


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; skipped on a developer machine without it, a failure in CI (CI=true)."""
    found = chromium()
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("headless Chromium is required in CI (Debian package chromium)")
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


class DevTools:
    """The Chrome DevTools protocol over --remote-debugging-pipe: JSON messages separated by NUL on fds 3/4."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def connect_pipes() -> None:
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)

        self.process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "--window-size=1400,2200",
                "about:blank",
            ],
            # Kept open past preexec_fn (close_fds runs after it): the pipes' ends at 3 and 4 where Chromium reads.
            pass_fds=(3, 4, to_browser_read, from_browser_write),
            preexec_fn=connect_pipes,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None

    def send(self, method: str, session: bool = True, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise AssertionError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def open_page(self) -> None:
        target = self.send("Target.createTarget", session=False, url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", session=False, targetId=target, flatten=True)["sessionId"]

    def evaluate(self, expression: str) -> Any:
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def artefact_dir() -> Path:
    folder = Path(os.environ.get("LOANBRIDGE_TEST_ARTIFACTS", repository_root(Path(__file__)) / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chart_points(browser: DevTools, charts: tuple[str, ...] = DASHBOARD_CHARTS) -> dict[str, int]:
    """How many non-null data points each ECharts chart of the page draws (0 when it was never drawn)."""
    counts = browser.evaluate(
        "(" + json.dumps(list(charts)) + ").map(id => { const chart = echarts.getInstanceByDom("
        "document.getElementById(id)); return chart ? chart.getOption().series.reduce("
        "(n, s) => n + s.data.filter(v => v !== null && (v.value ?? v) !== null).length, 0) : 0; })"
    )
    return dict(zip(charts, counts, strict=True))
