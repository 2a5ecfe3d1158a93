"""Dispatching messages: the worker claims due messages (``FOR UPDATE SKIP LOCKED``, with a lease so a message
claimed by a worker that died is taken again), applies the customer rules, resolves contacts, renders, sends
through the channel's adapter and records the attempt; robots' bursts merge into a digest."""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client import Counter

from loanbridge.common import clock
from loanbridge.common.pii.masking import mask_mobile
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.notify import orm
from loanbridge.notify.channels.base import Result
from loanbridge.notify.config import NotifyConfig
from loanbridge.notify.contacts import ContactsUnavailable
from loanbridge.notify.domain import rules
from loanbridge.notify.domain.templates import Recipient, Rendered, TemplateInvalid, render

log = structlog.get_logger(__name__)

MESSAGES = Counter("loanbridge_notify_messages_total", "Messages by channel and final outcome", ["channel", "outcome"])
ATTEMPTS = Counter("loanbridge_notify_attempts_total", "Delivery attempts by channel and status", ["channel", "status"])
ROBOT_CHANNELS = ("dingtalk", "wecom")
ROBOT_WINDOW = timedelta(minutes=1)


def message_loop(runtime: Runtime, stop: threading.Event) -> None:
    """Send due messages until ``stop`` is set."""
    config: NotifyConfig = runtime.config
    while not stop.is_set():
        try:
            worked = dispatch_due(runtime) > 0
        except Exception as exc:  # one bad batch must not stop the loop; each message records its own failure
            log.error("message_loop_error", error=type(exc).__name__, exc_info=exc)
            worked = False
        if not worked:
            stop.wait(config.poll_seconds)


def dispatch_due(runtime: Runtime, *, limit: int | None = None) -> int:
    """Claim and send one batch of due messages; answers how many were claimed."""
    config: NotifyConfig = runtime.config
    claimed = runtime.transaction(_claim, limit=limit or config.dispatch_batch, lease=config.lease_seconds)
    if not claimed:
        return 0
    customers = [row for row in claimed if row.recipient_kind == "customer"]
    going = runtime.transaction(_customer_gates, rows=customers, config=config) if customers else set()
    batch = Batch(templates=runtime.transaction(_templates, codes={row.template for row in claimed}))
    by_robot: dict[str, list[Any]] = {}
    for row in claimed:
        if row.recipient_kind == "customer" and row.id not in going:
            continue
        if row.channel in ROBOT_CHANNELS:
            by_robot.setdefault(row.channel, []).append(row)
        else:
            _deliver_one(runtime, config, batch, row)
    for channel, rows in by_robot.items():
        _deliver_to_robot(runtime, config, batch, channel, rows)
    return len(claimed)


@dataclass
class Batch:
    """What one dispatch batch reads once: the templates its messages use."""

    templates: dict[str, Any]


def _templates(uow: UnitOfWork, *, codes: set[str]) -> dict[str, Any]:
    rows = uow.session.execute(sa.select(orm.templates).where(orm.templates.c.code.in_(codes)))
    return {row.code: row for row in rows}


def dispatch_all_due(runtime: Runtime) -> int:
    """Dispatch batches until nothing is due (tests, the benchmark, a catch-up after downtime)."""
    total = 0
    while (claimed := dispatch_due(runtime)) > 0:
        total += claimed
    return total


def _claim(uow: UnitOfWork, *, limit: int, lease: float) -> list[Any]:
    now = clock.now()
    messages = orm.messages
    due = sa.or_(
        sa.and_(messages.c.status == "pending", messages.c.due_at <= naive_utc(now)),
        sa.and_(messages.c.status == "sending", messages.c.lease_until < naive_utc(now)),
    )
    rows = list(
        uow.session.execute(
            sa.select(messages).where(due).order_by(messages.c.due_at).limit(limit).with_for_update(skip_locked=True)
        )
    )
    if rows:
        uow.session.execute(
            messages.update()
            .where(messages.c.id.in_([row.id for row in rows]))
            .values(status="sending", lease_until=naive_utc(now + timedelta(seconds=lease)))
        )
    return rows


@dataclass
class Target:
    """Where one message goes, as the adapter needs it, and how the delivery log names it (masked)."""

    masked: str
    recipient: Recipient
    address: str | None = None
    mention_ids: list[str] = field(default_factory=list)
    mention_mobiles: list[str] = field(default_factory=list)
    opt_out: bool = False


class CustomerView:
    """The customer of a message as a staff template sees it: the mobile fetched on use, and masked."""

    def __init__(self, config: NotifyConfig, customer_id: str | None, *, own_channel: bool) -> None:
        self._config = config
        self._customer_id = customer_id
        self._own = own_channel
        self.id = customer_id

    @cached_property
    def mobile(self) -> str:
        contacts = self._config.contacts.customer(self._customer_id) if self._customer_id else None
        mobile = (contacts or {}).get("mobile") or ""
        return mobile if self._own else mask_mobile(mobile)


class Failed(Exception):
    """A message cannot be sent as it stands: the result to record, and the recipient as the log names it."""

    def __init__(self, result: Result, masked: str) -> None:
        super().__init__(result.code)
        self.result = result
        self.masked = masked


def _target(runtime: Runtime, config: NotifyConfig, row: Any) -> Target:
    kind, channel = row.recipient_kind, row.channel
    if kind == "group":
        return Target(masked=f"role:{row.recipient_id}", recipient=Recipient(display_name=row.recipient_id))
    if kind == "customer":
        contacts = _contacts(config.contacts.customer, row, f"customer:{row.recipient_id}")
        mobile = contacts.get("mobile")
        if not mobile:
            raise Failed(Result.failed("no_mobile", transient=False), f"customer:{row.recipient_id}")
        return Target(
            masked=mask_mobile(mobile),
            recipient=Recipient(mobile=mobile, own_channel=True),
            address=mobile,
            opt_out=bool(contacts.get("opt_out")),
        )
    name = runtime.transaction(_display_name, user_id=row.recipient_id)
    masked = f"user:{row.recipient_id}"
    if channel == "inbox":
        return Target(masked=masked, recipient=Recipient(display_name=name))
    if channel in ROBOT_CHANNELS:
        return _robot_target(config, row, name, masked)
    contacts = _contacts(config.contacts.staff, row, masked)
    recipient = Recipient(display_name=name, mobile=contacts.get("mobile"))
    if channel == "email":
        if not contacts.get("email"):
            raise Failed(Result.failed("no_email", transient=False), masked)
        return Target(masked=masked, recipient=recipient, address=contacts["email"])
    if channel == "sms":
        if not contacts.get("mobile"):
            raise Failed(Result.failed("no_mobile", transient=False), masked)
        return Target(masked=masked, recipient=recipient, address=contacts["mobile"])
    raise Failed(Result.failed("unknown_channel", transient=False), masked)


def _robot_target(config: NotifyConfig, row: Any, name: str, masked: str) -> Target:
    """A group post mentions the staff member by robot user id, else by mobile; unknown contacts post unmentioned."""
    try:
        contacts = config.contacts.staff(row.recipient_id) or {}
    except ContactsUnavailable as exc:
        raise Failed(Result.failed("contacts_unavailable", transient=True), masked) from exc
    recipient = Recipient(display_name=name, mobile=contacts.get("mobile"))
    user_id = contacts.get("dingtalk_user_id" if row.channel == "dingtalk" else "wecom_user_id")
    if user_id:
        return Target(masked=masked, recipient=recipient, mention_ids=[user_id])
    mobiles = [contacts["mobile"]] if contacts.get("mobile") else []
    return Target(masked=masked, recipient=recipient, mention_mobiles=mobiles)


def _contacts(fetch: Any, row: Any, masked: str) -> dict[str, Any]:
    try:
        found = fetch(row.recipient_id)
    except ContactsUnavailable as exc:
        raise Failed(Result.failed("contacts_unavailable", transient=True), masked) from exc
    if found is None:
        raise Failed(Result.failed("contacts_not_found", transient=False), masked)
    answer: dict[str, Any] = found
    return answer


def _display_name(uow: UnitOfWork, *, user_id: str) -> str:
    member = orm.staff_member(uow.session, user_id)
    return member.display_name if member is not None else ""


def _render(config: NotifyConfig, batch: Batch, row: Any, target: Target) -> tuple[Rendered, Any]:
    template = batch.templates.get(row.template)
    if template is None:
        raise Failed(Result.failed("template_missing", transient=False), target.masked)
    own = row.recipient_kind == "customer"
    context = {
        **orm.loads(row.context),
        "recipient": target.recipient,
        "customer": CustomerView(config, orm.loads(row.context).get("customer_id"), own_channel=own),
    }
    try:
        return render(template.title, template.body, context), template
    except TemplateInvalid as exc:
        raise Failed(Result.failed("template_error", transient=False), target.masked) from exc


def _sms_params(template: Any, row: Any, target: Target) -> dict[str, str]:
    expressions: dict[str, str] = orm.loads(template.sms_params) or {}
    context = {**orm.loads(row.context), "recipient": target.recipient}
    return {name: render("", expression, context).body for name, expression in expressions.items()}


def body_hash(rendered: Rendered) -> str:
    return hashlib.sha256(f"{rendered.title}\n{rendered.body}".encode()).hexdigest()


# --- one message ---------------------------------------------------------------------------------------------
def _deliver_one(runtime: Runtime, config: NotifyConfig, batch: Batch, row: Any) -> None:
    try:
        target = _target(runtime, config, row)
        rendered, template = _render(config, batch, row, target)
        if row.marketing and target.opt_out:
            raise Failed(Result.failed("opted_out", transient=False), target.masked)
        result = _send(config, row, target, rendered, template)
    except Failed as failure:
        runtime.transaction(_record, row=row, result=failure.result, masked=failure.masked, digest=None)
        return
    runtime.transaction(
        _record,
        row=row,
        result=result,
        masked=target.masked,
        digest=(rendered, 1),
        recipient_hash=recipient_hash(config, target.address) if row.recipient_kind == "customer" else None,
    )


def recipient_hash(config: NotifyConfig, mobile: str | None) -> str | None:
    """A keyed hash of a customer's mobile: matches an SMS reply to its customer without storing the number."""
    if not mobile or config.recipient_hash_key is None:
        return None
    digits = "".join(ch for ch in mobile if ch.isdigit())[-11:]
    return hmac.new(config.recipient_hash_key, digits.encode(), hashlib.sha256).hexdigest()


def _send(config: NotifyConfig, row: Any, target: Target, rendered: Rendered, template: Any) -> Result:
    if row.channel == "inbox":
        return Result.sent("inbox")
    if row.channel == "email":
        if config.email is None:
            return Result.failed("channel_not_configured", transient=False)
        return config.email.send(str(target.address), rendered.title, rendered.body)
    if row.channel == "sms":
        if config.sms is None:
            return Result.failed("channel_not_configured", transient=False)
        if not template.sms_template_code:
            return Result.failed("no_sms_template_code", transient=False)
        return config.sms.send(str(target.address), template.sms_template_code, _sms_params(template, row, target))
    return Result.failed("unknown_channel", transient=False)


def _customer_gates(uow: UnitOfWork, *, rows: list[Any], config: NotifyConfig) -> set[str]:
    """The customer messages of a batch that may go now (the others are deferred or suppressed)."""
    return {row.id for row in rows if _customer_gate(uow, row=row, config=config) == "go"}


def _customer_gate(uow: UnitOfWork, *, row: Any, config: NotifyConfig) -> str:
    """Quiet hours, opt-out of marketing, the daily cap: answers go, deferred or suppressed (reserving a count)."""
    now = clock.now()
    zone = clock.business_timezone()
    allowed = rules.outside_quiet_hours(now, zone=zone, start=config.quiet_start, end=config.quiet_end)
    if allowed > now:
        _reschedule(uow, row.id, allowed)
        return "deferred"
    if row.marketing and orm.is_opted_out(uow.session, row.recipient_id):
        _suppress(uow, row, masked=f"customer:{row.recipient_id}")
        return "suppressed"
    day = clock.business_date(now)
    counts = orm.customer_daily_counts
    where = sa.and_(counts.c.customer_id == row.recipient_id, counts.c.day == day)
    sent = uow.session.execute(sa.select(counts.c.sent).where(where).with_for_update()).scalar()
    if sent is not None and sent >= config.customer_daily_cap:
        _reschedule(uow, row.id, rules.next_morning(now, zone=zone, end=config.quiet_end))
        return "deferred"
    if sent is None:
        uow.session.execute(counts.insert().values(customer_id=row.recipient_id, day=day, sent=1))
    else:
        uow.session.execute(counts.update().where(where).values(sent=counts.c.sent + 1))
    return "go"


def _release_count(uow: UnitOfWork, row: Any) -> None:
    counts = orm.customer_daily_counts
    day = clock.business_date(clock.now())
    uow.session.execute(
        counts.update()
        .where(counts.c.customer_id == row.recipient_id, counts.c.day == day, counts.c.sent > 0)
        .values(sent=counts.c.sent - 1)
    )


def _reschedule(uow: UnitOfWork, message_id: str, at: Any) -> None:
    messages = orm.messages
    uow.session.execute(
        messages.update()
        .where(messages.c.id == message_id)
        .values(status="pending", due_at=naive_utc(at), lease_until=None)
    )


def _suppress(uow: UnitOfWork, row: Any, *, masked: str) -> None:
    messages = orm.messages
    uow.session.execute(
        messages.update()
        .where(messages.c.id == row.id)
        .values(status="suppressed", error="opted_out", lease_until=None)
    )
    _log_attempt(uow, row, status="suppressed", code="opted_out", masked=masked, digest=None)
    MESSAGES.labels(row.channel, "suppressed").inc()


def _log_attempt(
    uow: UnitOfWork, row: Any, *, status: str, code: str | None, masked: str, digest: tuple[Rendered, int] | None
) -> None:
    uow.session.execute(
        orm.deliveries.insert().values(
            message_id=row.id,
            attempt=row.attempts + 1,
            channel=row.channel,
            status=status,
            provider_code=code,
            template=row.template,
            masked_recipient=masked[:64],
            body_sha256=body_hash(digest[0]) if digest else None,
            digest_of=digest[1] if digest else 1,
            at=naive_utc(clock.now()),
        )
    )
    ATTEMPTS.labels(row.channel, status).inc()


def _record(
    uow: UnitOfWork,
    *,
    row: Any,
    result: Result,
    masked: str,
    digest: tuple[Rendered, int] | None,
    recipient_hash: str | None = None,
) -> None:
    """The attempt in the delivery log, and the message sent, retried later, suppressed or failed."""
    config: NotifyConfig = uow.config
    now = clock.now()
    attempt = row.attempts + 1
    messages = orm.messages
    where = messages.c.id == row.id
    if result.code == "opted_out":
        if row.recipient_kind == "customer":
            _release_count(uow, row)
        _suppress(uow, row, masked=masked)
        return
    status = "sent" if result.ok else ("retrying" if result.transient else "failed")
    delay = rules.retry_delay(attempt, config.retry_delays) if status == "retrying" else None
    if status == "retrying" and delay is None:
        status = "failed"
    _log_attempt(uow, row, status=status, code=result.code, masked=masked, digest=digest)
    if result.ok:
        if row.channel == "inbox" and digest is not None:
            _to_inbox(uow, row, digest[0])
        uow.session.execute(
            messages.update()
            .where(where)
            .values(status="sent", attempts=attempt, sent_at=naive_utc(now), error=None, recipient_hash=recipient_hash)
        )
        _emit(uow, "notify.message.sent", row, attempt, None)
        MESSAGES.labels(row.channel, "sent").inc()
        return
    if row.recipient_kind == "customer":
        _release_count(uow, row)
    if delay is not None:
        uow.session.execute(
            messages.update()
            .where(where)
            .values(
                status="pending",
                attempts=attempt,
                error=result.code,
                due_at=naive_utc(now + timedelta(seconds=delay)),
                lease_until=None,
            )
        )
        return
    uow.session.execute(
        messages.update().where(where).values(status="failed", attempts=attempt, error=result.code, lease_until=None)
    )
    _emit(uow, "notify.message.failed", row, attempt, result.code)
    MESSAGES.labels(row.channel, "failed").inc()
    log.warning("message_failed", message_id=row.id, channel=row.channel, template=row.template, code=result.code)


def _to_inbox(uow: UnitOfWork, row: Any, rendered: Rendered) -> None:
    uow.session.execute(
        orm.insert_ignore(orm.inbox_items).values(
            id=row.id,
            user_id=row.recipient_id,
            message_id=row.id,
            template=row.template,
            title=rendered.title[:200],
            body=rendered.body,
            subject_id=row.subject_id,
            created_at=naive_utc(clock.now()),
        )
    )


def _emit(uow: UnitOfWork, event_type: str, row: Any, attempt: int, error: str | None) -> None:
    uow.emit(
        event_type,
        subject=row.id,
        data={
            "message_id": row.id,
            "channel": row.channel,
            "template": row.template,
            "subject_id": row.subject_id,
            "recipient_kind": row.recipient_kind,
            "recipient_id": row.recipient_id,
            "cause_event_type": row.event_type,
            "attempt": attempt,
            "error": error,
        },
    )


# --- robots --------------------------------------------------------------------------------------------------
def _deliver_to_robot(runtime: Runtime, config: NotifyConfig, batch: Batch, channel: str, rows: list[Any]) -> None:
    """Post within the robot's rate: one post per message while there is room, the rest merged into a digest."""
    robot = config.dingtalk if channel == "dingtalk" else config.wecom
    prepared: list[tuple[Any, Target, Rendered]] = []
    for row in rows:
        try:
            if robot is None:
                raise Failed(Result.failed("channel_not_configured", transient=False), f"{row.recipient_kind}")
            target = _target(runtime, config, row)
            rendered, _template = _render(config, batch, row, target)
        except Failed as failure:
            runtime.transaction(_record, row=row, result=failure.result, masked=failure.masked, digest=None)
            continue
        prepared.append((row, target, rendered))
    if not prepared or robot is None:
        return
    now = clock.now()
    posts = runtime.transaction(_recent_posts, robot=channel, since=now - ROBOT_WINDOW)
    room = config.robot_per_minute - len(posts)
    if room <= 0:
        retry_at = clock.as_utc(posts[0]) + ROBOT_WINDOW
        runtime.transaction(_defer, ids=[row.id for row, _t, _r in prepared], at=retry_at)
        return
    singles = prepared if len(prepared) <= room else prepared[: room - 1]
    merged = [] if len(prepared) <= room else prepared[room - 1 :]
    for row, target, rendered in singles:
        result = robot.post(_text(rendered), mobiles=target.mention_mobiles, user_ids=target.mention_ids)
        runtime.transaction(_record_post, robot=channel, rows=[(row, target)], result=result, rendered=rendered)
    if merged:
        digest = _digest(merged)
        mobiles = sorted({m for _r, t, _x in merged for m in t.mention_mobiles})
        user_ids = sorted({u for _r, t, _x in merged for u in t.mention_ids})
        result = robot.post(_text(digest), mobiles=mobiles, user_ids=user_ids)
        runtime.transaction(
            _record_post,
            robot=channel,
            rows=[(row, target) for row, target, _r in merged],
            result=result,
            rendered=digest,
        )


def _text(rendered: Rendered) -> str:
    return f"{rendered.title}\n{rendered.body}" if rendered.title else rendered.body


def _digest(merged: list[tuple[Any, Target, Rendered]]) -> Rendered:
    lines = [f"{index}. {_text(rendered)}" for index, (_row, _target, rendered) in enumerate(merged, start=1)]
    return Rendered(title=f"【消息汇总】共 {len(merged)} 条通知", body="\n\n".join(lines))


def _recent_posts(uow: UnitOfWork, *, robot: str, since: Any) -> list[Any]:
    return orm.robot_posts_since(uow.session, robot, naive_utc(since))


def _defer(uow: UnitOfWork, *, ids: list[str], at: Any) -> None:
    for message_id in ids:
        _reschedule(uow, message_id, at)


def _record_post(
    uow: UnitOfWork, *, robot: str, rows: list[tuple[Any, Target]], result: Result, rendered: Rendered
) -> None:
    uow.session.execute(orm.robot_posts.insert().values(robot=robot, at=naive_utc(clock.now())))
    for row, target in rows:
        _record(uow, row=row, result=result, masked=target.masked, digest=(rendered, len(rows)))
