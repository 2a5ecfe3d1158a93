"""SMS replies (上行短信) pushed by the provider: a 退订 reply opts that customer out of marketing SMS.

The callback is verified with ``LOANBRIDGE_NOTIFY_SMS_CALLBACK_SECRET`` (the same HMAC scheme as webhooks). A reply
names a mobile; notify matches it to a customer through the keyed hash of the number stored with each SMS it
sent, so no number is kept.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import structlog

from loanbridge.common import clock
from loanbridge.common.errors import Unauthenticated
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm
from loanbridge.notify.config import NotifyConfig
from loanbridge.notify.domain import signing
from loanbridge.notify.handlers.dispatch import recipient_hash

log = structlog.get_logger(__name__)
OPT_OUT_WORDS = {"退订", "TD", "T", "N", "取消", "退订短信"}


def verify_callback(config: NotifyConfig, *, timestamp: str, signature: str, body: bytes) -> None:
    """Refuse a callback whose signature does not match (or when no callback secret is configured)."""
    secret = config.sms_callback_secret
    if not secret or not signing.verify(secret, timestamp, body, signature, now=clock.now().timestamp()):
        raise Unauthenticated("回调签名无效", code="invalid_signature")


def is_opt_out(content: str) -> bool:
    return content.strip().upper() in OPT_OUT_WORDS


def record_replies(uow: UnitOfWork, *, config: NotifyConfig, replies: list[dict[str, Any]]) -> dict[str, int]:
    """Record every 退订 among the replies against the customer the number was last sent to."""
    opted = unmatched = 0
    for reply in replies:
        if not is_opt_out(str(reply.get("content", ""))):
            continue
        hashed = recipient_hash(config, str(reply.get("phone_number", "")))
        messages = orm.messages
        customer_id = (
            uow.session.execute(
                sa.select(messages.c.recipient_id)
                .where(messages.c.recipient_hash == hashed, messages.c.recipient_kind == "customer")
                .order_by(messages.c.sent_at.desc())
                .limit(1)
            ).scalar()
            if hashed
            else None
        )
        if customer_id is None:
            unmatched += 1
            continue
        uow.session.execute(
            orm.insert_ignore(orm.opt_outs).values(
                customer_id=customer_id, source="sms_reply", at=naive_utc(clock.now())
            )
        )
        opted += 1
    if unmatched:
        log.info("sms_replies_unmatched", count=unmatched)
    return {"received": len(replies), "opted_out": opted, "unmatched": unmatched}
