"""Webhooks for external systems: registration, signed deliveries retried with exponential back-off for up to
24 hours, every attempt logged, and a manual redeliver."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import requests
import sqlalchemy as sa
import structlog
from prometheus_client import Counter

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput, NotFound, Unavailable
from loanbridge.common.events.catalog import EVENT_TYPES
from loanbridge.common.pii.crypto import ACTIVE_KEY_TTL, replace_data_key, rewrap_data_keys
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm
from loanbridge.notify.config import NotifyConfig
from loanbridge.notify.domain import rules, signing

log = structlog.get_logger(__name__)
SECRET_FIELD = "webhooks.secret"
WEBHOOK_ATTEMPTS = Counter("loanbridge_notify_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])


def register_webhook(
    uow: UnitOfWork, *, actor: str, name: str, url: str, event_types: list[str], secret: str | None
) -> dict[str, Any]:
    """Register a subscriber; the secret (generated when not given) is shown only in this answer."""
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput.for_field("event_types", f"未知的事件类型: {', '.join(unknown)}")
    config: NotifyConfig = uow.config
    if config.cipher is None:
        raise Unavailable("Webhook 密钥加密未配置", code="webhook_secrets_not_configured")
    secret = secret or secrets.token_urlsafe(32)
    row = {
        "id": str(uuid.uuid4()),
        "name": name,
        "url": url,
        "secret": config.cipher.encrypt(uow.session, SECRET_FIELD, secret),
        "event_types": json.dumps(sorted(set(event_types))),
        "active": True,
        "created_by": actor,
        "created_at": naive_utc(clock.now()),
    }
    uow.session.execute(orm.webhooks.insert().values(**row))
    return {**_public(row), "secret": secret}


def update_webhook(uow: UnitOfWork, *, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a subscriber's URL, event types or active state."""
    _webhook(uow, webhook_id)
    values = dict(changes)
    if "event_types" in values:
        unknown = sorted(set(values["event_types"]) - set(EVENT_TYPES))
        if unknown:
            raise InvalidInput.for_field("event_types", f"未知的事件类型: {', '.join(unknown)}")
        values["event_types"] = json.dumps(sorted(set(values["event_types"])))
    if values:
        uow.session.execute(orm.webhooks.update().where(orm.webhooks.c.id == webhook_id).values(**values))
    return _public(_webhook(uow, webhook_id)._asdict())


def list_webhooks(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = uow.session.execute(sa.select(orm.webhooks).order_by(orm.webhooks.c.created_at))
    return [_public(row._asdict()) for row in rows]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    types = row["event_types"]
    return {
        "id": row["id"],
        "name": row["name"],
        "url": row["url"],
        "event_types": json.loads(types) if isinstance(types, str) else types,
        "active": bool(row["active"]),
        "created_at": row["created_at"],
    }


def _webhook(uow: UnitOfWork, webhook_id: str) -> Any:
    row = uow.session.execute(sa.select(orm.webhooks).where(orm.webhooks.c.id == webhook_id)).first()
    if row is None:
        raise NotFound("Webhook 不存在")
    return row


def list_deliveries(uow: UnitOfWork, *, webhook_id: str, limit: int) -> list[dict[str, Any]]:
    """A webhook's deliveries, newest first, each with every attempt."""
    _webhook(uow, webhook_id)
    table = orm.webhook_deliveries
    rows = list(
        uow.session.execute(
            sa.select(table).where(table.c.webhook_id == webhook_id).order_by(table.c.created_at.desc()).limit(limit)
        )
    )
    attempts: dict[str, list[dict[str, Any]]] = {row.id: [] for row in rows}
    if rows:
        logged = uow.session.execute(
            sa.select(orm.webhook_attempts)
            .where(orm.webhook_attempts.c.delivery_id.in_(list(attempts)))
            .order_by(orm.webhook_attempts.c.id)
        )
        for attempt in logged:
            attempts[attempt.delivery_id].append(
                {
                    "attempt": attempt.attempt,
                    "status_code": attempt.status_code,
                    "outcome": attempt.outcome,
                    "error": attempt.error,
                    "at": clock.as_utc(attempt.at),
                }
            )
    return [
        {
            "id": row.id,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": clock.as_utc(row.next_attempt_at) if row.next_attempt_at else None,
            "delivered_at": clock.as_utc(row.delivered_at) if row.delivered_at else None,
            "log": attempts[row.id],
        }
        for row in rows
    ]


def redeliver(uow: UnitOfWork, *, webhook_id: str, delivery_id: str, hours: float) -> dict[str, Any]:
    """Send a delivery again now (delivered or given up), with a fresh retry window."""
    table = orm.webhook_deliveries
    where = sa.and_(table.c.id == delivery_id, table.c.webhook_id == webhook_id)
    if uow.session.execute(sa.select(table.c.id).where(where)).first() is None:
        raise NotFound("投递记录不存在")
    now = clock.now()
    uow.session.execute(
        table.update()
        .where(where)
        .values(
            status="pending",
            next_attempt_at=naive_utc(now),
            retry_until=naive_utc(now + timedelta(hours=hours)),
            lease_until=None,
        )
    )
    return {"id": delivery_id, "status": "pending"}


def rewrap_keys(runtime: Runtime) -> int:
    """Re-wrap the data keys sealing webhook secrets under the current KEK (``loanbridge rotate-keys``)."""
    config: NotifyConfig = runtime.config
    if config.cipher is None:
        return 0
    cipher = config.cipher
    total = 0
    while moved := runtime.transaction(lambda uow: rewrap_data_keys(uow.session, cipher)):
        total += moved
    return total


def reencrypt(runtime: Runtime, *, before: datetime | None = None, settle: float = ACTIVE_KEY_TTL + 1) -> int:
    """``loanbridge rotate-keys --data-keys``: a new data key, and every webhook secret (``before`` aside: all of
    them) re-encrypted under it; returns how many."""
    config: NotifyConfig = runtime.config
    if config.cipher is None:
        return 0
    return replace_data_key(
        runtime, config.cipher, [(orm.webhooks, orm.webhooks.c.id, [("secret", SECRET_FIELD)])], settle=settle
    )


# --- the worker ----------------------------------------------------------------------------------------------
def webhook_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Deliver due webhook events until ``stop`` is set."""
    config: NotifyConfig = runtime.config
    while not stop.is_set():
        try:
            worked = deliver_due(runtime) > 0
        except Exception as exc:  # a failing batch must not stop the loop; each delivery logs its own attempt
            log.error("webhook_loop_error", error=type(exc).__name__, exc_info=exc)
            worked = False
        if not worked:
            stop.wait(config.poll_seconds)


def deliver_due(runtime: Runtime, *, limit: int = 100) -> int:
    """Claim due deliveries, POST each signed, record the attempt; answers how many were claimed."""
    config: NotifyConfig = runtime.config
    claimed = runtime.transaction(_claim, limit=limit, lease=config.webhook_timeout * 3)
    for delivery in claimed:
        if not delivery.active:
            runtime.transaction(_park, delivery_id=delivery.id)
            continue
        outcome, status_code, error = _post(config, delivery)
        runtime.transaction(_record, delivery=delivery, outcome=outcome, status_code=status_code, error=error)
    return len(claimed)


def _claim(uow: UnitOfWork, *, limit: int, lease: float) -> list[Any]:
    now = naive_utc(clock.now())
    table, hooks = orm.webhook_deliveries, orm.webhooks
    due = sa.or_(
        sa.and_(table.c.status == "pending", table.c.next_attempt_at <= now),
        sa.and_(table.c.status == "sending", table.c.lease_until < now),
    )
    rows = list(
        uow.session.execute(
            sa.select(table).where(due).order_by(table.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return []
    uow.session.execute(
        table.update()
        .where(table.c.id.in_([row.id for row in rows]))
        .values(status="sending", lease_until=now + timedelta(seconds=lease))
    )
    targets = {
        hook.id: hook
        for hook in uow.session.execute(
            sa.select(hooks.c.id, hooks.c.url, hooks.c.secret, hooks.c.active).where(
                hooks.c.id.in_({row.webhook_id for row in rows})
            )
        )
    }
    cipher = uow.config.cipher
    return [
        Claimed(row, targets[row.webhook_id], cipher.decrypt(uow.session, SECRET_FIELD, targets[row.webhook_id].secret))
        for row in rows
        if row.webhook_id in targets
    ]


class Claimed:
    """A claimed delivery with its webhook's URL and secret."""

    def __init__(self, row: Any, hook: Any, secret: str) -> None:
        self.id = row.id
        self.event_id = row.event_id
        self.event_type = row.event_type
        self.payload = row.payload
        self.attempts = row.attempts
        self.retry_until = row.retry_until
        self.url = hook.url
        self.secret = secret
        self.active = bool(hook.active)


def _park(uow: UnitOfWork, *, delivery_id: str) -> None:
    """A paused webhook keeps its deliveries; they wait (as failed) for a redeliver once it is active again."""
    table = orm.webhook_deliveries
    uow.session.execute(table.update().where(table.c.id == delivery_id).values(status="failed", lease_until=None))


def _post(config: NotifyConfig, delivery: Any) -> tuple[str, int | None, str | None]:
    body = delivery.payload.encode()
    timestamp = int(clock.now().timestamp())
    headers = {
        "Content-Type": "application/json",
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(delivery.secret, timestamp, body),
        signing.EVENT_ID_HEADER: delivery.event_id,
        signing.EVENT_TYPE_HEADER: delivery.event_type,
        signing.DELIVERY_HEADER: delivery.id,
    }
    try:
        response = requests.post(delivery.url, data=body, headers=headers, timeout=config.webhook_timeout)
    except requests.RequestException as exc:
        return "error", None, type(exc).__name__[:64]
    if 200 <= response.status_code < 300:
        return "delivered", response.status_code, None
    return "error", response.status_code, f"http_{response.status_code}"


def _record(uow: UnitOfWork, *, delivery: Any, outcome: str, status_code: int | None, error: str | None) -> None:
    config: NotifyConfig = uow.config
    now = clock.now()
    attempt = delivery.attempts + 1
    uow.session.execute(
        orm.webhook_attempts.insert().values(
            delivery_id=delivery.id,
            attempt=attempt,
            status_code=status_code,
            outcome=outcome,
            error=error,
            at=naive_utc(now),
        )
    )
    WEBHOOK_ATTEMPTS.labels(outcome).inc()
    table = orm.webhook_deliveries
    where = table.c.id == delivery.id
    if outcome == "delivered":
        values: dict[str, Any] = {"status": "delivered", "delivered_at": naive_utc(now), "next_attempt_at": None}
    else:
        retry_at = now + timedelta(
            seconds=rules.webhook_delay(attempt, base=config.webhook_retry_base, cap=config.webhook_retry_cap)
        )
        if retry_at > clock.as_utc(delivery.retry_until):
            values = {"status": "failed", "next_attempt_at": None}
            log.warning("webhook_given_up", delivery_id=delivery.id, attempts=attempt)
        else:
            values = {"status": "pending", "next_attempt_at": naive_utc(retry_at)}
    uow.session.execute(table.update().where(where).values(attempts=attempt, lease_until=None, **values))
