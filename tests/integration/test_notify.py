"""notify in the distributed mode: a task that goes overdue in workflow reaches its assignee's inbox and the
firm's DingTalk robot (a local fake that checks DingTalk's documented signature), all from events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from loanbridge.common import clock
from loanbridge.common.testing.waiting import wait_until
from tests.integration import leads
from tests.integration.support import Api, Stack, password_token

ROBOT_SECRET = "SEC-integration-robot"
# Every hour of the day is working time, and today a working day, so a short SLA runs out during the test.
ROUND_THE_CLOCK = {"LOANBRIDGE_WORKFLOW_WORKING_HOURS": "00:00-23:59", "LOANBRIDGE_WORKFLOW_TIMER_POLL_SECONDS": "0.5"}
FIRST_CONTACT_HOURS = 0.005  # 18 seconds


class DingTalkRobot(ThreadingHTTPServer):
    """A DingTalk custom robot: accepts a post only when its ``sign`` is DingTalk's, computed from the docs:
    base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)), URL-encoded, beside the millisecond ``timestamp``."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RobotHandler)
        self.posts: list[dict[str, Any]] = []
        self.refused = 0

    def verifies(self, query: dict[str, list[str]]) -> bool:
        timestamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        digest = hmac.new(ROBOT_SECRET.encode(), f"{timestamp}\n{ROBOT_SECRET}".encode(), hashlib.sha256).digest()
        return bool(timestamp) and sign == base64.b64encode(digest).decode()


class RobotHandler(BaseHTTPRequestHandler):
    server: DingTalkRobot

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.verifies(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)):
            self.server.posts.append(body)
            answer = {"errcode": 0, "errmsg": "ok"}
        else:
            self.server.refused += 1
            answer = {"errcode": 310000, "errmsg": "sign not match"}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def robot(stack: Stack) -> Iterator[DingTalkRobot]:
    server = DingTalkRobot()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    robot_env = {"LOANBRIDGE_NOTIFY_DINGTALK_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/robot/send",
                 "LOANBRIDGE_NOTIFY_DINGTALK_SECRET": ROBOT_SECRET}  # fmt: skip
    stack.restart("workflow-worker", extra_env=ROUND_THE_CLOCK)
    stack.restart("notify-worker", extra_env=robot_env)
    try:
        yield server
    finally:
        stack.restart("workflow-worker")
        stack.restart("notify-worker")
        server.shutdown()


def publish_process(admin: Api, product: str, definition: dict[str, Any]) -> None:
    draft = admin.post("/api/workflow/v1/processes", json={"product": product, "definition": definition})
    assert draft.status_code == 201, draft.text
    assert admin.post(f"/api/workflow/v1/processes/{product}/versions/{draft.json()['version']}/publish").ok


@pytest.fixture
def short_first_contact_sla(admin: Api) -> Iterator[str]:
    """A version of the car process whose first contact is due within seconds; the usual one again after."""
    usual = admin.get("/api/workflow/v1/processes/car/published").json()["definition"]
    short = json.loads(json.dumps(usual))
    assigned = next(stage for stage in short["stages"] if stage["key"] == "assigned")
    assigned["sla"] = {"duration": FIRST_CONTACT_HOURS, "unit": "working_hours", "remind_before": 0,
                       "escalate_to": "manager"}  # fmt: skip
    publish_process(admin, "car", short)
    yield "car"
    publish_process(admin, "car", usual)


def test_an_overdue_task_reaches_the_assignees_inbox_and_the_dingtalk_robot(
    stack: Stack, admin: Api, robot: DingTalkRobot, short_first_contact_sla: str
) -> None:
    today = clock.business_date(clock.now()).isoformat()
    assert admin.put(f"/api/workflow/v1/calendar/overrides/{today}", json={"working": True, "note": "测试"}).ok
    body = {"username": "sales.overdue", "password": "staff-pass-123", "display_name": "王业务", "roles": ["sales"]}
    user = admin.post("/api/identity/v1/users", json=body)
    assert user.status_code == 201, user.text
    sales = Api(stack.gateway, password_token(stack.gateway, "sales.overdue", "staff-pass-123"))

    lead = sales.post(
        "/api/intake/v1/leads", json={**leads.lead(random.Random(83), product="car"), "channel": "ground"}
    )
    assert lead.status_code == 201, lead.text

    def overdue_in_inbox() -> list[dict[str, Any]]:
        items = sales.get("/api/notify/v1/inbox").json()["items"]
        return [item for item in items if item["template"] == "task_overdue"]

    [message] = wait_until(overdue_in_inbox, timeout=90, message="the overdue task in the inbox")
    assert message["read_at"] is None
    assert wait_until(lambda: [post for post in robot.posts if "逾期" in json.dumps(post, ensure_ascii=False)],
                      timeout=30, message="the overdue task at the robot")  # fmt: skip
    assert robot.refused == 0
    task = sales.get("/api/workflow/v1/tasks?overdue=true").json()["items"][0]
    assert (task["case_id"], task["kind"]) == (lead.json()["id"], "first_contact")
    assert datetime.fromisoformat(task["due_at"]) < clock.now()
