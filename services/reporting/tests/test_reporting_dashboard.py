"""The dashboard at /dashboard/: a zh-CN page with ECharts bundled, and, in headless Chromium, a real sign-in
against identity followed by charts drawn from the KPI API (a screenshot is kept under test-artifacts/)."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from werkzeug.serving import make_server

from loanbridge.common.auth import StaticKeys
from loanbridge.common.testing import harness
from loanbridge.common.testing.browser import DevTools, artefact_dir, require_chromium
from loanbridge.common.testing.waiting import wait_until
from loanbridge.identity import handlers as identity_handlers

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
