"""The unit of work: one database transaction holding a use case's state change, its outgoing events (outbox)
and, for a consumer, the id of the event it applied (inbox). It rolls back unless committed.

``run_transaction`` runs a handler in a fresh unit of work and, when a unique key or a deadlock stops it, runs
it again: the second run re-reads what the concurrent request wrote and returns that first result. Only when
the conflict persists does the caller get a 409, never a 500.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from loanbridge.common import clock, context, metrics
from loanbridge.common.db import Database
from loanbridge.common.errors import Conflict
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.tables import access_audit, idempotency_keys, inbox, outbox

log = structlog.get_logger(__name__)
T = TypeVar("T")

# MySQL: deadlock found, lock wait timeout. Both mean "try the whole transaction again".
RETRYABLE_MYSQL_ERRORS = {1213, 1205}


def naive_utc(instant: datetime) -> datetime:
    """Databases store naive UTC datetimes."""
    return clock.as_utc(instant).replace(tzinfo=None)


class UnitOfWork:
    """A transaction on one service's database, with its outbox and inbox."""

    def __init__(
        self,
        database: Database,
        service: str,
        on_events_committed: Callable[[], None] | None = None,
        config: Any = None,
    ):
        self.database = database
        self.service = service
        # The service's own settings (``Runtime.config``), for event handlers, which get only the unit of work.
        self.config = config
        self.session: Session
        self.events: list[Envelope] = []
        self._writes_at_commit: dict[str, tuple[Any, Callable[[Session, Any], None]]] = {}
        self._loaded: dict[str, Any] = {}
        self._committed = False
        self._on_events_committed = on_events_committed

    def __enter__(self) -> UnitOfWork:
        self.session = self.database.session()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._committed:
            self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        for collected, write in self._writes_at_commit.values():
            write(self.session, collected)
        self._write_outbox()
        self.session.commit()
        self._committed = True
        for event_type, count in Counter(envelope.type for envelope in self.events).items():
            metrics.EVENTS_EMITTED.labels(self.service, event_type).inc(count)
        if self.events and self._on_events_committed:
            self._on_events_committed()

    def once(self, key: str, load: Callable[[], T]) -> T:
        """``load()`` the first time a key is asked for in this unit of work, its answer after that: a consumer's
        batch reads the configuration its events need once, not once per event."""
        if key not in self._loaded:
            self._loaded[key] = load()
        return cast(T, self._loaded[key])

    def insert_at_commit(self, table: sa.Table, row: dict[str, Any]) -> None:
        """Insert ``row`` at commit, with the other rows for its table in one statement: for append-only logs
        (reporting's archive) that nothing reads back within the transaction."""
        rows = self.at_commit(f"insert:{table.name}", list, lambda session, rows: session.execute(table.insert(), rows))
        rows.append(row)

    def at_commit(self, key: str, make: Callable[[], T], write: Callable[[Session, T], None]) -> T:
        """What ``make()`` built for ``key`` the first time it was asked for in this unit of work; at commit,
        ``write(session, it)`` runs once, in the order the keys were first asked for, before the outbox: a consumer's
        batch collects its changes there and writes each table once. Not written if the unit of work rolls back."""
        if key not in self._writes_at_commit:
            self._writes_at_commit[key] = (make(), write)
        return cast(T, self._writes_at_commit[key][0])

    def emit(
        self,
        event_type: str,
        *,
        subject: str,
        data: dict[str, Any],
        occurred_at: datetime | None = None,
        major: int = 1,
    ) -> Envelope:
        """Write an integration event to the outbox; it is published only if this unit of work commits."""
        cause = context.current()
        envelope = Envelope.new(
            source=self.service,
            event_type=event_type,
            subject=subject,
            sequence=self._next_sequence(subject),
            data=data,
            correlation_id=cause.correlation_id,
            causation_id=cause.causation_id,
            actor=cause.actor,
            occurred_at=occurred_at,
            major=major,
        )
        self.events.append(envelope)
        return envelope

    def _write_outbox(self) -> None:
        """Insert the events of this unit of work in one statement, just before the commit."""
        if not self.events:
            return
        created_at = naive_utc(clock.now())
        self.session.execute(
            outbox.insert(),
            [
                {
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "routing_key": envelope.routing_key,
                    "subject": envelope.subject,
                    "sequence": envelope.sequence,
                    "envelope": envelope.to_json(),
                    "created_at": created_at,
                }
                for envelope in self.events
            ],
        )

    def _next_sequence(self, subject: str) -> int:
        """Increment the subject's sequence and read it back in one statement (the row stays locked until
        commit, so two transactions changing one aggregate get consecutive numbers)."""
        if self.session.get_bind().dialect.name == "sqlite":
            return self.session.execute(
                sa.text(
                    "INSERT INTO event_sequences (subject, last_sequence) VALUES (:subject, 1) "
                    "ON CONFLICT (subject) DO UPDATE SET last_sequence = last_sequence + 1 RETURNING last_sequence"
                ),
                {"subject": subject},
            ).scalar_one()
        # MySQL's sequence idiom: LAST_INSERT_ID(expr) makes the new value the statement's insert id.
        result = cast(
            CursorResult,
            self.session.execute(
                sa.text(
                    "INSERT INTO event_sequences (subject, last_sequence) VALUES (:subject, LAST_INSERT_ID(1)) "
                    "ON DUPLICATE KEY UPDATE last_sequence = LAST_INSERT_ID(last_sequence + 1)"
                ),
                {"subject": subject},
            ),
        )
        return int(result.lastrowid)

    def claim_all(self, envelopes: list[Envelope]) -> set[str]:
        """Record a consumer's batch as applied by this transaction in two statements; answers the ids it claimed
        (those not applied before; the first of any repeated id). A concurrent claim of one of them makes the
        insert fail on the key, and ``run_transaction`` runs the whole batch again on fresh data."""
        ids = list(dict.fromkeys(envelope.id for envelope in envelopes))
        if not ids:
            return set()
        applied = set(self.session.execute(sa.select(inbox.c.event_id).where(inbox.c.event_id.in_(ids))).scalars())
        types = {envelope.id: envelope.type for envelope in envelopes}
        applied_at = naive_utc(clock.now())
        claimed = [event_id for event_id in ids if event_id not in applied]
        if claimed:
            rows = [{"event_id": id_, "event_type": types[id_], "applied_at": applied_at} for id_ in claimed]
            self.session.execute(inbox.insert(), rows)
        return set(claimed)

    def audit(self, *, actor: str, action: str, resource: str, fields: list[str] | None = None) -> None:
        """Append to the access audit (who read or changed what; field names, never values)."""
        self.session.execute(
            access_audit.insert().values(
                at=naive_utc(clock.now()),
                actor=actor,
                action=action,
                resource=resource,
                fields=",".join(fields or []),
                request_id=context.current().correlation_id,
            )
        )

    def find_idempotent_response(self, *, scope: str, key: str, request_hash: str) -> tuple[int, Any] | None:
        """The first answer stored under this key, or None; a different body under the same key is a 409."""
        row = self.session.execute(
            sa.select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        ).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Conflict("该幂等键已用于不同的请求内容", code="idempotency_key_reused")
        return row.status, json.loads(row.response)

    def save_idempotent_response(self, *, scope: str, key: str, request_hash: str, status: int, response: Any) -> None:
        """Remember an answer under an idempotency key, in the same transaction as the effect."""
        self.session.execute(
            idempotency_keys.insert().values(
                scope=scope,
                key=key,
                request_hash=request_hash,
                status=status,
                response=json.dumps(response, ensure_ascii=False, default=str),
                created_at=naive_utc(clock.now()),
            )
        )


def request_hash(body: Any) -> str:
    """A stable hash of a request body, to tell a replay from a different request under the same key."""
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_retryable_conflict(exc: BaseException) -> bool:
    """A unique-key violation, a deadlock or a lock timeout: the transaction may succeed if run again."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    if isinstance(exc, sa.exc.OperationalError):
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        return code in RETRYABLE_MYSQL_ERRORS
    return False


def run_transaction(
    make_uow: Callable[[], UnitOfWork],
    handler: Callable[..., T],
    /,
    *,
    attempts: int = 3,
    **kwargs: Any,
) -> T:
    """Run ``handler(uow, **kwargs)`` and commit; on a conflict run it again on fresh data, then give a 409."""
    for attempt in range(1, attempts + 1):
        with make_uow() as uow:
            try:
                result = handler(uow, **kwargs)
                uow.commit()
                return result
            except sa.exc.DBAPIError as exc:
                if not is_retryable_conflict(exc):
                    raise
                log.info(
                    "transaction_conflict",
                    handler=getattr(handler, "__name__", type(handler).__name__),
                    attempt=attempt,
                    error=type(exc).__name__,
                )
    raise Conflict("数据正被同时修改,请重试", code="concurrent_modification")
