"""The dashboard at /dashboard/: a zh-CN page with ECharts bundled, and, in headless Chromium, a real sign-in
against identity followed by charts drawn from the KPI API (a screenshot is kept under test-artifacts/)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from werkzeug.serving import make_server

from loanbridge.common.auth import StaticKeys
from loanbridge.common.events.schemas import repository_root
from loanbridge.common.testing import harness
from loanbridge.common.testing.waiting import wait_until
from loanbridge.identity import handlers as identity_handlers

ROOT = repository_root(Path(__file__))
PASSWORD = "dashboard-password-1"
CHARTS = ("chart-funnel", "chart-conversion", "chart-roi", "chart-overdue", "chart-trends", "chart-approvals")


def test_dashboard_page_is_served_in_chinese_and_loads_only_its_own_scripts(reporting: Any) -> None:
    response = reporting.client().get("/dashboard/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "经营看板" in page and "登录" in page
    sources = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert sources and all(not source.startswith(("http:", "https:", "//")) for source in sources)
    assert "static/echarts.min.js" in sources


def test_bundled_echarts_is_served_by_reporting_with_its_version_and_licence_beside_it(reporting: Any) -> None:
    client = reporting.client()

    script = client.get("/dashboard/static/echarts.min.js")
    notice = client.get("/dashboard/static/NOTICE")

    assert script.status_code == 200
    assert b'version="5.6.0"' in script.data or b"5.6.0" in script.data
    assert "Apache ECharts 5.6.0" in notice.get_data(as_text=True)
    assert "Apache-2.0" in notice.get_data(as_text=True)
    assert client.get("/dashboard/static/../service.py").status_code == 404


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


class PathRouter:
    """/api/identity/ to identity, everything else to reporting: the gateway's routing for this page."""

    def __init__(self, identity: Any, reporting: Any) -> None:
        self.identity, self.reporting = identity, reporting

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        app = self.identity if environ.get("PATH_INFO", "").startswith("/api/identity/") else self.reporting
        return app(environ, start_response)


@pytest.fixture
def identity(suite_env: dict[str, str]) -> Iterator[harness.ServiceUnderTest]:
    service = harness.service_runtime("identity", suite_env)
    service.runtime.config = replace(
        service.runtime.config, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    yield service
    service.runtime.database.dispose()


@pytest.fixture
def gateway(identity: Any, reporting: Any) -> Iterator[str]:
    """identity and reporting served on 127.0.0.1 behind one port, reporting trusting identity's keys."""
    # Read at each verification: identity makes its signing key when it first signs.
    reporting.runtime.use_key_source(StaticKeys(lambda: identity.client().get("/api/identity/v1/jwks").get_json()))
    server = make_server("127.0.0.1", 0, PathRouter(identity.app, reporting.app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def artefact_dir() -> Path:
    folder = Path(os.environ.get("LOANBRIDGE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_dashboard_signs_in_and_draws_every_chart_with_data_in_headless_chromium(
    identity: Any, reporting: Any, firm: Any, gateway: str, tmp_path: Path
) -> None:
    executable = require_chromium()
    identity.runtime.transaction(
        identity_handlers.ensure_admin, config=identity.runtime.config, username="admin", password=PASSWORD
    )
    harness.deliver(firm.events, reporting.runtime)
    browser = DevTools(executable, tmp_path / "chromium-profile")
    try:
        browser.open_page()
        browser.send("Page.enable")
        browser.send("Page.navigate", url=f"{gateway}/dashboard/?from=2026-03-01&to=2026-03-31")
        wait_until(
            lambda: browser.evaluate(
                "!!document.getElementById('sign-in-form') && !document.getElementById('sign-in').hidden"
            ),
            timeout=30,
            message="the sign-in form",
        )
        browser.evaluate(
            "(() => { const form = document.getElementById('sign-in-form');"
            f" form.username.value = 'admin'; form.password.value = {json.dumps(PASSWORD)};"
            " form.requestSubmit(); })()"
        )
        wait_until(lambda: browser.evaluate("document.body.dataset.loaded === 'true'"), timeout=30, message="the KPIs")
        points = browser.evaluate(
            "(" + json.dumps(list(CHARTS)) + ").map(id => { const chart = echarts.getInstanceByDom("
            "document.getElementById(id)); return chart ? chart.getOption().series.reduce("
            "(n, s) => n + s.data.filter(v => v !== null && (v.value ?? v) !== null).length, 0) : 0; })"
        )
        owners = browser.evaluate(
            "Array.from(document.querySelectorAll('#table-owners td:nth-child(2)')).map(c => c.textContent)"
        )
        error = browser.evaluate("document.getElementById('board-error').textContent")
        shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot = artefact_dir() / "reporting-dashboard.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        browser.close()

    assert error == ""
    assert all(count > 0 for count in points), dict(zip(CHARTS, points, strict=True))
    assert owners == ["王五", "张三", "李四"]
    assert screenshot.stat().st_size > 10_000
