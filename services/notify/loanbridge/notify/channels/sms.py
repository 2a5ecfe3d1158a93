"""SMS providers behind one interface: ``send(mobile, template_code, params)``. Aliyun's dysmsapi is the first.

Aliyun's RPC signature (its documentation, "RPC 机制的签名"): sort the query parameters, percent-encode names
and values (RFC 3986: space %20, ``*`` %2A, ``~`` kept), join as ``k=v&…``, then
``Signature = base64(HMAC-SHA1(AccessKeySecret + "&", "GET&%2F&" + percentEncode(canonicalQuery)))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import requests

from loanbridge.notify.channels.base import Result, session

# Codes Aliyun documents as "slow down or try later"; every other non-OK code is permanent for that message.
TRANSIENT_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "Throttling.User", "isv.DAY_LIMIT_CONTROL"}


class SmsProvider(Protocol):
    kind: str

    def send(self, mobile: str, template_code: str, params: dict[str, Any]) -> Result:
        """Send one templated SMS."""
        ...


def percent_encode(text: str) -> str:
    return quote(text, safe="~")


def signature(secret: str, params: dict[str, str], method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class AliyunSms:
    endpoint: str
    access_key_id: str
    access_key_secret: str
    sign_name: str
    region: str = "cn-hangzhou"
    timeout: float = 5.0
    kind: str = "aliyun"

    def send(self, mobile: str, template_code: str, params: dict[str, Any]) -> Result:
        """Call SendSms with a signed GET."""
        query = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": mobile,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template_code,
            "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        query["Signature"] = signature(self.access_key_secret, query)
        url = (
            self.endpoint.rstrip("/")
            + "/?"
            + "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())
        )
        try:
            response = session().get(url, timeout=self.timeout)
        except requests.RequestException:
            return Result.failed("connection_error", transient=True)
        if response.status_code >= 500:
            return Result.failed(f"http_{response.status_code}", transient=True)
        try:
            code = str(response.json().get("Code", ""))
        except ValueError:
            return Result.failed("invalid_response", transient=True)
        if code == "OK":
            return Result.sent("OK")
        return Result.failed(code or f"http_{response.status_code}", transient=code in TRANSIENT_CODES)
