"""DingTalk custom robot (自定义机器人): a webhook with the "加签" signature and @mentions.

Signature (DingTalk's documentation): ``sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))``
with ``timestamp`` in milliseconds; both travel as query parameters next to ``access_token``. A mention is by
mobile (``at.atMobiles``) or user id (``at.atUserIds``), and the text must contain ``@<mobile or id>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loanbridge.notify.channels.base import Result, post_json

# Codes DingTalk documents for a robot sending too fast or the platform being busy: try later.
TRANSIENT_CODES = {130101, 130102, -1}


def sign(secret: str, timestamp_ms: int) -> str:
    """The base64 HMAC-SHA256 of ``timestamp + "\\n" + secret`` (requests url-encodes it as a parameter)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class DingTalkRobot:
    webhook_url: str
    secret: str | None = None
    timeout: float = 5.0
    kind: str = "dingtalk"

    def post(self, text: str, *, mobiles: Sequence[str] = (), user_ids: Sequence[str] = ()) -> Result:
        """Post a text message mentioning the given staff."""
        mentions = [f"@{who}" for who in [*mobiles, *user_ids] if f"@{who}" not in text]
        body: dict[str, Any] = {
            "msgtype": "text",
            "text": {"content": " ".join([text, *mentions])},
            "at": {"atMobiles": list(mobiles), "atUserIds": list(user_ids), "isAtAll": False},
        }
        params: dict[str, str] = {}
        if self.secret:
            timestamp = int(time.time() * 1000)
            params = {"timestamp": str(timestamp), "sign": sign(self.secret, timestamp)}
        reply = post_json(self.webhook_url, body, timeout=self.timeout, params=params)
        if isinstance(reply, Result):
            return reply
        code = int(reply.get("errcode", -1))
        if code == 0:
            return Result.sent("0")
        return Result.failed(str(code), transient=code in TRANSIENT_CODES)
