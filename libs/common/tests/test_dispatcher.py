"""The embedded mode's dispatcher: a producer's outbox delivered in order to a subscriber, exactly once, with
delayed retries, dead letters and replay as rows of the subscriber's database."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from loanbridge.common import clock, failpoints
from loanbridge.common.events.dispatcher import Dispatcher, replay_dead_letters
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.runtime import Runtime
from loanbridge.common.tables import dead_letters, dispatch_cursors, dispatch_retries
from loanbridge.common.uow import UnitOfWork

LEAD_CREATED = "demo.lead.created.v1"


def publish_leads(producer: Runtime, count: int, *, start: int = 0) -> None:
    for number in range(start, start + count):
        with producer.unit_of_work() as uow:
            uow.emit("demo.lead.created", subject=f"lead-{number}", data={"number": number})
            uow.emit("demo.lead.noticed", subject=f"lead-{number}", data={"number": number})  # not subscribed
            uow.commit()


class Recorder:
    """A subscriber's handler that records what it applied in the subscriber's own transaction."""

    def __init__(self) -> None:
        self.applied: list[int] = []
        self.fail: Callable[[Envelope], None] = lambda _event: None

    def __call__(self, uow: UnitOfWork, event: Envelope) -> None:
        self.fail(event)
        uow.session.execute(sa.text("CREATE TABLE IF NOT EXISTS seen (number INTEGER)"))
        uow.session.execute(sa.text("INSERT INTO seen (number) VALUES (:n)"), {"n": event.data["number"]})
        self.applied.append(event.data["number"])


def seen(runtime: Runtime) -> list[int]:
    with runtime.database.session() as session:
        return [row.number for row in session.execute(sa.text("SELECT number FROM seen ORDER BY rowid"))]


def count(runtime: Runtime, table: sa.Table) -> int:
    with runtime.database.session() as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def setup(make_runtime: Callable[..., Runtime]) -> tuple[Runtime, Runtime, Recorder, Dispatcher]:
    recorder = Recorder()
    producer = make_runtime("producer")
    subscriber = make_runtime(
        "subscriber", subscriptions={LEAD_CREATED: recorder}, LOANBRIDGE_EVENTS_RETRY_DELAYS="10,20"
    )
    dispatcher = Dispatcher(subscriber, {"producer": producer}, threading.Event())
    return producer, subscriber, recorder, dispatcher


def drain(dispatcher: Dispatcher) -> None:
    while dispatcher.dispatch_once():
        pass


def test_subscribed_events_are_applied_in_outbox_order_and_the_cursor_is_kept(make_runtime) -> None:
    producer, subscriber, _recorder, dispatcher = setup(make_runtime)
    publish_leads(producer, 250)

    drain(dispatcher)

    assert seen(subscriber) == list(range(250))
    with subscriber.database.session() as session:
        position = session.execute(sa.select(dispatch_cursors.c.position)).scalar_one()
    assert position == 500  # past the unsubscribed events too


def test_a_cursor_lost_with_its_transaction_redelivers_but_the_inbox_applies_nothing_twice(make_runtime) -> None:
    producer, subscriber, _recorder, dispatcher = setup(make_runtime)
    publish_leads(producer, 20)
    drain(dispatcher)
    with subscriber.database.session() as session, session.begin():
        session.execute(dispatch_cursors.update().values(position=0))  # as if the process died before moving on

    drain(dispatcher)

    assert seen(subscriber) == list(range(20))


def test_a_failing_event_is_parked_retried_after_its_delay_then_dead_lettered(make_runtime) -> None:
    producer, subscriber, recorder, dispatcher = setup(make_runtime)
    recorder.fail = lambda event: (_ for _ in ()).throw(ValueError("bug")) if event.data["number"] == 1 else None
    with clock.use_clock(clock.FixedClock(datetime(2026, 3, 1, tzinfo=UTC))) as fixed:
        publish_leads(producer, 3)
        drain(dispatcher)
        assert seen(subscriber) == [0, 2]  # the others flow past the parked one
        assert count(subscriber, dispatch_retries) == 1

        fixed.advance(timedelta(seconds=5))
        drain(dispatcher)
        assert count(subscriber, dead_letters) == 0  # not due yet

        for _ in range(2):
            fixed.advance(timedelta(seconds=21))
            drain(dispatcher)

    assert count(subscriber, dispatch_retries) == 0
    with subscriber.database.session() as session:
        letter = session.execute(sa.select(dead_letters)).one()
    assert letter.error == "ValueError"
    assert "bug" not in letter.error


def test_replayed_dead_letters_are_applied_once_the_fault_is_fixed(make_runtime) -> None:
    producer, subscriber, _recorder, dispatcher = setup(make_runtime)
    failpoints.configure("dispatcher.before_apply=raise")
    with clock.use_clock(clock.FixedClock(datetime(2026, 3, 1, tzinfo=UTC))) as fixed:
        publish_leads(producer, 2)
        for _ in range(4):
            drain(dispatcher)
            fixed.advance(timedelta(seconds=30))
        assert count(subscriber, dead_letters) == 2
        assert seen_or_empty(subscriber) == []

        failpoints.configure("")
        assert replay_dead_letters(subscriber) == 2
        drain(dispatcher)
    assert seen(subscriber) == [0, 1]
    assert replay_dead_letters(subscriber) == 0  # each dead letter is replayed once


def test_not_yet_waits_without_counting_towards_the_dead_letter_queue(make_runtime) -> None:
    producer, subscriber, recorder, dispatcher = setup(make_runtime)
    waiting = {"until": 5}

    def not_before_the_fifth_try(_event: Envelope) -> None:
        waiting["until"] -= 1
        if waiting["until"] > 0:
            raise NotYet()

    recorder.fail = not_before_the_fifth_try
    with clock.use_clock(clock.FixedClock(datetime(2026, 3, 1, tzinfo=UTC))) as fixed:
        publish_leads(producer, 1)
        for _ in range(6):
            drain(dispatcher)
            fixed.advance(timedelta(seconds=30))
    assert seen(subscriber) == [0]
    assert count(subscriber, dead_letters) == 0


def seen_or_empty(runtime: Runtime) -> list[int]:
    try:
        return seen(runtime)
    except sa.exc.OperationalError:  # the handler never ran, so its table does not exist
        return []
