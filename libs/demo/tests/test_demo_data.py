"""``loanbridge demo-data`` at a small scale into a temporary var dir: reporting's KPIs, read through its API with a
real token, show a consistent firm; every event happened in the past months; no timer or message of the past is
left due; a second run is refused; and the dashboard, signed in as a manager in headless Chromium, draws every
chart with data (its screenshot is kept as ``test-artifacts/demo-dashboard.png``)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from loanbridge.common import clock
from loanbridge.common.embedded import Suite, embedded_environment
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.tables import outbox
from loanbridge.common.testing import browser
from loanbridge.common.testing.waiting import wait_until
from loanbridge.demo import firm
from loanbridge.demo.fill import AlreadyFilled, Options, Summary, environment, fill
from loanbridge.notify import orm as notify_orm
from loanbridge.workflow import orm as workflow_orm

PASSWORD = "demo-password-1"
MONTHS = 6
STAGE_FLOW = ("new", "assigned", "pre_review", "plan_matching", "risk_review", "contract", "disbursed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Suite, Summary, Path]]:
    var_dir = tmp_path_factory.mktemp("demo-var")
    environ = embedded_environment({**os.environ, "LOANBRIDGE_VAR_DIR": str(var_dir)})
    suite = Suite(environment(environ, months=MONTHS))
    summary = fill(suite, Options(months=MONTHS, leads_per_month=8, seed=7, password=PASSWORD))
    yield suite, summary, var_dir
    suite.close()


@pytest.fixture(scope="module")
def admin(demo: tuple[Suite, Summary, Path]) -> dict[str, str]:
    suite, _, _ = demo
    answer = (
        suite.apps["identity"]
        .test_client()
        .post(
            "/api/identity/v1/token", data={"grant_type": "password", "username": "sun.jianguo", "password": PASSWORD}
        )
    )
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def kpi(demo: tuple[Suite, Summary, Path], headers: dict[str, str], path: str, **query: str) -> list[dict[str, Any]]:
    suite, summary, _ = demo
    params = {"from": summary.first_day, "to": summary.last_day, **query}
    response = suite.apps["reporting"].test_client().get(f"/api/reporting/v1/{path}", query_string=params,
                                                         headers=headers)  # fmt: skip
    assert response.status_code == 200, response.get_json()
    return list(response.get_json()["rows"])


def count(session: Any, table: sa.Table, *where: Any) -> int:
    return int(session.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def total(rows: list[dict[str, Any]], name: str) -> float:
    return sum(row[name] or 0 for row in rows)


def test_the_conversion_funnel_is_non_empty_and_never_grows_from_one_step_to_the_next(demo: Any, admin: Any) -> None:
    _, summary, _ = demo
    rows = kpi(demo, admin, "kpis")

    steps = [total(rows, name) for name in ("leads", "submitted", "lender_submitted", "lender_approved", "disbursed")]

    assert steps[0] == summary.counts["leads"] >= 30
    assert all(count > 0 for count in steps), steps
    assert steps == sorted(steps, reverse=True), steps
    assert 0 < total(rows, "risk_approved") <= total(rows, "submitted")
    assert {row["channel"] for row in rows} == {channel.code for channel in firm.CHANNELS}
    assert total(rows, "recycled") == summary.counts["released"] > 0


def test_approvals_roi_overdue_and_the_leaderboard_have_true_figures(demo: Any, admin: Any) -> None:
    _, summary, _ = demo
    approvals = kpi(demo, admin, "approvals")
    roi = kpi(demo, admin, "roi")
    overdue = kpi(demo, admin, "overdue")
    owners = kpi(demo, admin, "leaderboard", by="owner")
    funnel = {row["stage"]: row for row in kpi(demo, admin, "funnel")}

    assert 0 < total(approvals, "risk_approved") < total(approvals, "evaluations")
    assert 0 < total(approvals, "lender_approved") < total(approvals, "lender_submissions")
    assert total(approvals, "lender_submissions") == summary.counts["lender_submissions"]
    assert all(row["spend"] > 0 for row in roi) and total(roi, "commission") > 0
    assert total(roi, "loans") == total(overdue, "loans") == summary.counts["loans"]
    assert 0 < total(overdue, "m3_loans") <= total(overdue, "m1_loans") < total(overdue, "loans")
    assert total(overdue, "m1_principal") > 0
    names = {person.display_name for person in firm.STAFF}
    assert owners and all(row["name"] in names for row in owners)
    assert total(owners, "loans") == summary.counts["loans"] and owners[0]["principal"] > 0
    reached = [funnel[stage]["reached"] for stage in STAGE_FLOW]
    assert reached[0] == summary.counts["leads"] and reached[-1] == summary.counts["loans"]
    assert reached == sorted(reached, reverse=True), reached


def test_every_event_happened_in_the_past_months_and_no_timer_fired(demo: Any) -> None:
    suite, summary, _ = demo
    first, closed_at = date.fromisoformat(summary.first_day), clock.parse_iso(summary.closed_at)
    events: list[Envelope] = []
    for runtime in suite.runtimes.values():
        with runtime.database.session() as session:
            events += [Envelope.from_json(text) for text in session.execute(sa.select(outbox.c.envelope)).scalars()]
    times = [clock.parse_iso(event.time) if isinstance(event.time, str) else event.time for event in events]

    assert len(events) > 1000
    assert first <= clock.business_date(min(times)) and max(times) < closed_at
    assert clock.business_date(max(times)) >= clock.business_date(closed_at) - timedelta(days=3)
    types = {event.type for event in events}
    assert {"workflow.loan.overdue", "workflow.repayment.recorded", "workflow.lender.decided"} <= types
    assert not types & {"workflow.task.overdue", "workflow.task.reminder_due", "notify.message.sent",
                        "notify.message.failed"}  # fmt: skip
    recycled = [event for event in events if event.type == "workflow.case.recycled"]
    assert recycled and {event.data["reason"] for event in recycled} == {"客户暂无需求"}  # released, never lapsed


def test_after_the_walk_no_timer_is_due_before_now_and_later_ones_stay_armed(demo: Any) -> None:
    suite, summary, _ = demo
    cutoff = clock.parse_iso(summary.closed_at).replace(tzinfo=None)
    tasks, owners, messages = workflow_orm.tasks, workflow_orm.owners, notify_orm.messages
    with suite.runtimes["workflow"].database.session() as session:
        open_ = tasks.c.status == "open"
        due_tasks = count(session, tasks, open_, tasks.c.overdue_at.is_(None), tasks.c.due_at <= cutoff)
        due_reminders = count(session, tasks, open_, tasks.c.reminded_at.is_(None), tasks.c.remind_at <= cutoff)
        due_recycling = count(session, owners, owners.c.owner_id.is_not(None), owners.c.recycle_due_at <= cutoff)
        armed = count(session, tasks, open_, tasks.c.due_at > cutoff)
    with suite.runtimes["notify"].database.session() as session:
        pending = messages.c.status == "pending"
        due_messages = count(session, messages, pending, messages.c.due_at <= cutoff)
        scheduled = count(session, messages, pending, messages.c.due_at > cutoff)
        sent = count(session, notify_orm.deliveries)

    assert (due_tasks, due_reminders, due_recycling, due_messages, sent) == (0, 0, 0, 0, 0)
    assert summary.closed["workflow"]["tasks"] > 0 and summary.closed["notify"]["messages"] > 0
    assert armed > 0 and scheduled > 0
    assert (summary.pending_retries, summary.dead_letters) == (0, 0)


def test_an_install_with_leads_is_refused_by_the_function_and_the_command(demo: Any) -> None:
    suite, _, var_dir = demo

    with pytest.raises(AlreadyFilled):
        fill(suite, Options(months=1, leads_per_month=1, password=PASSWORD))
    command = subprocess.run(
        [str(Path(sys.executable).parent / "loanbridge"), "demo-data", "--months", "1", "--leads-per-month", "1"],
        env={**os.environ, "LOANBRIDGE_MODE": "embedded", "LOANBRIDGE_VAR_DIR": str(var_dir)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert command.returncode != 0
    assert "已有" in command.stderr and "全新安装" in command.stderr


def test_after_demo_data_the_dashboard_draws_every_chart_with_data_in_headless_chromium(
    demo: Any, tmp_path: Path
) -> None:
    executable = browser.require_chromium()
    suite, summary, _ = demo
    server = make_server("127.0.0.1", 0, suite.wsgi(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    chromium = browser.DevTools(executable, tmp_path / "chromium-profile")
    try:
        chromium.open_page()
        chromium.send("Page.enable")
        url = f"http://127.0.0.1:{server.server_port}/dashboard/?from={summary.first_day}&to={summary.last_day}"
        chromium.send("Page.navigate", url=url)
        wait_until(lambda: chromium.evaluate("!!document.getElementById('sign-in-form') && "
                                             "!document.getElementById('sign-in').hidden"),
                   timeout=30, message="the sign-in form")  # fmt: skip
        chromium.evaluate(
            "(() => { const form = document.getElementById('sign-in-form');"
            f" form.username.value = 'zhao.lei'; form.password.value = {json.dumps(PASSWORD)};"
            " form.requestSubmit(); })()"
        )
        wait_until(lambda: chromium.evaluate("document.body.dataset.loaded === 'true'"), timeout=60,
                   message="the KPIs")  # fmt: skip
        points = browser.chart_points(chromium)
        owners = chromium.evaluate(
            "Array.from(document.querySelectorAll('#table-owners td:nth-child(2)')).map(c => c.textContent)"
        )
        error = chromium.evaluate("document.getElementById('board-error').textContent")
        shot = chromium.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot = browser.artefact_dir() / "demo-dashboard.png"
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    finally:
        chromium.close()
        server.shutdown()
        thread.join(timeout=10)

    assert error == ""
    assert all(count > 0 for count in points.values()), points
    jinan = {person.display_name for person in firm.STAFF if person.team == "jinan" and "sales" in person.roles}
    assert owners and set(owners) <= jinan  # the manager of 济南一组 sees his own team only
    assert screenshot.stat().st_size > 10_000
