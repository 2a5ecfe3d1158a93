"""WeCom group robot (企业微信群机器人): ``POST <base>/cgi-bin/webhook/send?key=<key>`` with a text message;
mentions by user id (``mentioned_list``) or mobile (``mentioned_mobile_list``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loanbridge.notify.channels.base import Result, post_json

# 45009: the robot's frequency limit (20 a minute); -1: the platform is busy.
TRANSIENT_CODES = {45009, -1}
SEND_PATH = "/cgi-bin/webhook/send"


@dataclass
class WeComRobot:
    base_url: str
    key: str
    timeout: float = 5.0
    kind: str = "wecom"

    def post(self, text: str, *, mobiles: Sequence[str] = (), user_ids: Sequence[str] = ()) -> Result:
        """Post a text message mentioning the given staff."""
        body = {
            "msgtype": "text",
            "text": {"content": text, "mentioned_list": list(user_ids), "mentioned_mobile_list": list(mobiles)},
        }
        url = self.base_url.rstrip("/") + SEND_PATH
        reply = post_json(url, body, timeout=self.timeout, params={"key": self.key})
        if isinstance(reply, Result):
            return reply
        code = int(reply.get("errcode", -1))
        if code == 0:
            return Result.sent("0")
        return Result.failed(str(code), transient=code in TRANSIENT_CODES)
