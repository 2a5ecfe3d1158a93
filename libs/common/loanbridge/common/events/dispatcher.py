"""The embedded mode's delivery, without a broker: each service's outbox is a durable, ordered log, and a
dispatcher per subscribing service reads every producer's log in order and applies what it subscribes to.

A subscriber's cursor (per producer), its inbox rows and the handlers' effects commit in one transaction of the
subscriber's database, so a ``kill -9`` at any moment loses nothing and applies nothing twice. A failing event
is parked as a ``dispatch_retries`` row (the cursor moves on) and retried after each configured delay; after
its last attempt it becomes a ``dead_letters`` row, which ``loanbridge replay-dlq`` puts back. Handlers and
subscription registries are the same as in the distributed mode; only delivery differs.

Order: SQLite takes its write lock at BEGIN (see db.py), so outbox ids are assigned in commit order and a
cursor can never pass a row that commits later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
import structlog

from loanbridge.common import clock, failpoints, metrics
from loanbridge.common.db import is_connection_error
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet, error_label
from loanbridge.common.events.inbox import apply_events
from loanbridge.common.runtime import Runtime
from loanbridge.common.tables import dead_letters, dispatch_cursors, dispatch_retries, outbox
from loanbridge.common.uow import UnitOfWork, naive_utc

log = structlog.get_logger(__name__)

BATCH_SIZE = 200
MAX_IDLE_WAIT = 0.4


@dataclass(frozen=True)
class LogEntry:
    position: int
    envelope: Envelope


class Dispatcher:
    """Delivers the outboxes of ``producers`` to one subscribing service until ``stop`` is set."""

    def __init__(self, subscriber: Runtime, producers: Mapping[str, Runtime], stop: threading.Event) -> None:
        self.subscriber = subscriber
        self.producers = producers
        self.stop = stop
        self.settings = subscriber.settings.events
        self.wake = threading.Event()

    # --- the loop -----------------------------------------------------------------------------------------
    def run(self) -> None:
        idle_wait = self.settings.relay_poll_interval
        while not self.stop.is_set():
            try:
                worked = self.dispatch_once()
            except Exception as exc:
                log.error("dispatcher_error", subscriber=self.subscriber.name, error=type(exc).__name__, exc_info=exc)
                worked = False
            if worked:
                idle_wait = self.settings.relay_poll_interval
                continue
            self.wake.wait(idle_wait)
            self.wake.clear()
            idle_wait = min(idle_wait * 2, MAX_IDLE_WAIT)

    def dispatch_once(self) -> bool:
        """Deliver one batch from each producer and the retries that are due; True if anything moved."""
        moved = False
        for producer in self.producers:
            moved |= self._deliver_from(producer) > 0
        moved |= self._retry_due() > 0
        return moved

    def dispatch_from(self, producer: str) -> int:
        """Deliver one batch of one producer's log; answers how many log entries it read (fewer than
        ``BATCH_SIZE``: the log is drained). For a caller that knows which outbox changed (the demo-data walk)."""
        return self._deliver_from(producer)

    # --- reading the producers' logs ----------------------------------------------------------------------
    def _deliver_from(self, producer: str) -> int:
        entries = self._read(producer, after=self._cursor(producer))
        if not entries:
            return 0
        subscribed = [entry for entry in entries if entry.envelope.routing_key in self.subscriber.spec.subscriptions]
        last = entries[-1].position
        try:
            self._apply(
                [entry.envelope for entry in subscribed], then=partial(_set_cursor, producer=producer, position=last)
            )
        except Exception as exc:
            if is_connection_error(exc):
                raise
            self._deliver_one_by_one(producer, subscribed, last)
        return len(entries)

    def _apply(self, envelopes: list[Envelope], *, then: Callable[[UnitOfWork], None]) -> None:
        failpoints.hit("dispatcher.before_apply")
        apply_events(self.subscriber, envelopes, then=then)
        failpoints.hit("dispatcher.after_commit")

    def _read(self, producer: str, *, after: int) -> list[LogEntry]:
        with self.producers[producer].database.session() as session:
            rows = session.execute(
                sa.select(outbox.c.id, outbox.c.envelope)
                .where(outbox.c.id > after)
                .order_by(outbox.c.id)
                .limit(BATCH_SIZE)
            ).all()
        return [LogEntry(position=row.id, envelope=Envelope.from_json(row.envelope)) for row in rows]

    def _cursor(self, producer: str) -> int:
        with self.subscriber.database.session() as session:
            position = session.execute(
                sa.select(dispatch_cursors.c.position).where(dispatch_cursors.c.producer == producer)
            ).scalar_one_or_none()
        return position or 0

    def _deliver_one_by_one(self, producer: str, subscribed: list[LogEntry], last: int) -> None:
        """Isolate the failing event of a batch: each one commits with the cursor moved past it."""
        for entry in subscribed:
            try:
                self._apply([entry.envelope], then=partial(_set_cursor, producer=producer, position=entry.position))
            except Exception as exc:
                if is_connection_error(exc):
                    raise
                self.subscriber.transaction(
                    self._park, envelope=entry.envelope, error=exc, producer=producer, position=entry.position
                )
        self.subscriber.transaction(_set_cursor, producer=producer, position=last)

    def _park(self, uow: UnitOfWork, *, envelope: Envelope, error: Exception, producer: str, position: int) -> None:
        """Keep a failed event for a delayed retry, and move the cursor past it, in one transaction."""
        not_yet = isinstance(error, NotYet)
        uow.session.execute(
            dispatch_retries.insert().values(
                event_id=envelope.id,
                event_type=envelope.type,
                envelope=envelope.to_json(),
                attempts=0 if not_yet else 1,
                not_yet=1 if not_yet else 0,
                next_attempt_at=naive_utc(clock.now() + timedelta(seconds=self.settings.retry_delays[0])),
                last_error=error_label(error)[:200],
            )
        )
        _set_cursor(uow, producer=producer, position=position)
        metrics.EVENTS_RETRIED.labels(self.subscriber.name, envelope.type, "not_yet" if not_yet else "failed").inc()
        log.warning("event_failed", event_type=envelope.type, event_id=envelope.id, error=error_label(error))

    # --- delayed retries and dead letters -----------------------------------------------------------------
    def _retry_due(self) -> int:
        with self.subscriber.database.session() as session:
            due = session.execute(
                sa.select(dispatch_retries)
                .where(dispatch_retries.c.next_attempt_at <= naive_utc(clock.now()))
                .order_by(dispatch_retries.c.next_attempt_at)
                .limit(BATCH_SIZE)
            ).all()
        for row in due:
            envelope = Envelope.from_json(row.envelope)
            try:
                self._apply([envelope], then=partial(_unpark, event_id=row.event_id))
            except Exception as exc:
                if is_connection_error(exc):
                    raise
                self.subscriber.transaction(self._retry_later, row=row, envelope=envelope, error=exc)
        return len(due)

    def _retry_later(self, uow: UnitOfWork, *, row: sa.Row, envelope: Envelope, error: Exception) -> None:
        not_yet = isinstance(error, NotYet)
        attempts = row.attempts + (0 if not_yet else 1)
        waited = row.not_yet + (1 if not_yet else 0)
        if attempts >= self.settings.max_attempts or waited > self.settings.not_yet_attempts:
            _unpark(uow, event_id=row.event_id)
            uow.session.execute(
                dead_letters.insert().values(
                    event_id=envelope.id,
                    event_type=envelope.type,
                    envelope=row.envelope,
                    error=error_label(error)[:200],
                    failed_at=naive_utc(clock.now()),
                )
            )
            metrics.EVENTS_DEAD_LETTERED.labels(self.subscriber.name, envelope.type).inc()
            log.error("event_dead_lettered", event_type=envelope.type, error=error_label(error))
            return
        delays = self.settings.retry_delays
        delay = delays[min(max(attempts, waited), len(delays)) - 1]
        uow.session.execute(
            dispatch_retries.update()
            .where(dispatch_retries.c.event_id == row.event_id)
            .values(
                attempts=attempts,
                not_yet=waited,
                next_attempt_at=naive_utc(clock.now() + timedelta(seconds=delay)),
                last_error=error_label(error)[:200],
            )
        )
        metrics.EVENTS_RETRIED.labels(self.subscriber.name, envelope.type, "not_yet" if not_yet else "failed").inc()


def _set_cursor(uow: UnitOfWork, *, producer: str, position: int) -> None:
    updated = uow.session.execute(
        dispatch_cursors.update().where(dispatch_cursors.c.producer == producer).values(position=position)
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        uow.session.execute(dispatch_cursors.insert().values(producer=producer, position=position))


def _unpark(uow: UnitOfWork, *, event_id: str) -> None:
    uow.session.execute(dispatch_retries.delete().where(dispatch_retries.c.event_id == event_id))


def replay_dead_letters(runtime: Runtime, *, limit: int | None = None) -> int:
    """Put the embedded mode's dead letters back for delivery, with a fresh retry budget."""

    def replay(uow: UnitOfWork) -> int:
        query = sa.select(dead_letters).where(dead_letters.c.replayed_at.is_(None)).order_by(dead_letters.c.id)
        rows = uow.session.execute(query.limit(limit) if limit else query).all()
        now = naive_utc(clock.now())
        for row in rows:
            uow.session.execute(dispatch_retries.delete().where(dispatch_retries.c.event_id == row.event_id))
            uow.session.execute(
                dispatch_retries.insert().values(
                    event_id=row.event_id,
                    event_type=row.event_type,
                    envelope=row.envelope,
                    attempts=0,
                    not_yet=0,
                    next_attempt_at=now,
                    last_error=None,
                )
            )
            uow.session.execute(dead_letters.update().where(dead_letters.c.id == row.id).values(replayed_at=now))
        return len(rows)

    count = runtime.transaction(replay)
    metrics.EVENTS_REPLAYED.labels(runtime.name).inc(count)
    return count


def report_lag(subscriber: Runtime, producers: Mapping[str, Runtime]) -> None:
    """Events a subscriber has still to read, per producer, as the queue-depth gauge of the distributed mode."""
    for name, producer in producers.items():
        with producer.database.session() as session:
            newest = session.execute(sa.select(sa.func.max(outbox.c.id))).scalar_one_or_none() or 0
        with subscriber.database.session() as session:
            position = (
                session.execute(
                    sa.select(dispatch_cursors.c.position).where(dispatch_cursors.c.producer == name)
                ).scalar_one_or_none()
                or 0
            )
            parked = session.execute(
                sa.select(sa.func.count()).select_from(dead_letters).where(dead_letters.c.replayed_at.is_(None))
            ).scalar_one()
        metrics.QUEUE_MESSAGES.labels(subscriber.name, f"{name}.outbox", "events").set(newest - position)
        metrics.QUEUE_MESSAGES.labels(subscriber.name, "dead_letters", "dead_letter").set(parked)
