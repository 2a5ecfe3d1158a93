"""Webhook signatures: ``HMAC-SHA256(secret, f"{timestamp}.{body}")`` in hex, sent as
``X-LoanBridge-Signature: v1=<hex>`` with ``X-LoanBridge-Timestamp: <unix seconds>``. SMS reply callbacks are
signed the same way with the callback secret. docs/notify.md shows a receiver's check."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-LoanBridge-Signature"
TIMESTAMP_HEADER = "X-LoanBridge-Timestamp"
EVENT_ID_HEADER = "X-LoanBridge-Event-Id"
EVENT_TYPE_HEADER = "X-LoanBridge-Event-Type"
DELIVERY_HEADER = "X-LoanBridge-Delivery"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float) -> bool:
    """The signature matches and the timestamp is within five minutes of ``now``."""
    try:
        when = int(timestamp)
    except ValueError:
        return False
    if abs(now - when) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(secret, when, body), signature)
