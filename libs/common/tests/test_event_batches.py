"""Batches under a steady stream of events: the consumer gathers what arrives within the batch window, and the
relay lets its next batch fill for that long, so a stream costs a transaction per batch and not per event; a lone
event is not held back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from loanbridge.common.events import relay as relay_module
from loanbridge.common.events.broker import Outgoing
from loanbridge.common.events.consumer import EventConsumer
from loanbridge.common.events.relay import OutboxRelay
from loanbridge.common.runtime import Runtime
from loanbridge.common.testing.waiting import wait_until


class ScheduledDeliveries:
    """A broker connection that delivers one message at each offset (seconds after it is made)."""

    def __init__(self, received: list[Any], offsets: list[float]) -> None:
        self.received = received
        started = time.monotonic()
        self.due = [started + offset for offset in offsets]

    def drain_events(self, timeout: float) -> None:
        wait = self.due[0] - time.monotonic() if self.due else float("inf")
        if wait > timeout:
            time.sleep(timeout)
            raise TimeoutError
        time.sleep(max(wait, 0))
        self.due.pop(0)
        self.received.append(object())


def gathered(consumer: EventConsumer, offsets: list[float], *, window: float) -> tuple[int, float]:
    """How many deliveries one gather took after a first one, and how long it took."""
    received: list[Any] = [object()]
    consumer._connection = ScheduledDeliveries(received, offsets)
    started = time.monotonic()
    consumer._gather(received, window=window)
    return len(received), time.monotonic() - started


def test_a_stream_is_gathered_into_one_batch_until_the_window_closes(make_runtime: Callable[..., Runtime]) -> None:
    consumer = EventConsumer(make_runtime(), threading.Event())

    count, took = gathered(consumer, [0.02, 0.04, 0.06, 1.5], window=0.5)

    assert count == 4  # the first and the three within the window, not the one after it
    assert 0.45 <= took < 1.4


def test_a_gather_stops_at_one_prefetch_window(make_runtime: Callable[..., Runtime]) -> None:
    consumer = EventConsumer(make_runtime(LOANBRIDGE_EVENTS_PREFETCH="3"), threading.Event())

    count, took = gathered(consumer, [0.01, 0.02, 0.03, 0.04], window=2.0)

    assert count == 3
    assert took < 1.0


def test_without_a_window_a_gather_takes_only_what_has_arrived(make_runtime: Callable[..., Runtime]) -> None:
    consumer = EventConsumer(make_runtime(), threading.Event())

    count, took = gathered(consumer, [0.0, 0.3], window=0.0)

    assert count == 2
    assert took < 0.2


def test_only_a_delivery_within_the_window_of_the_last_batch_waits_for_more(
    make_runtime: Callable[..., Runtime],
) -> None:
    consumer = EventConsumer(make_runtime(LOANBRIDGE_EVENTS_BATCH_WINDOW="0.2"), threading.Event())

    assert consumer.batch_window(since_last_batch=0.05) == 0.2
    assert consumer.batch_window(since_last_batch=3.0) == 0.0
    assert consumer.batch_window(since_last_batch=float("inf")) == 0.0  # the first delivery


class Connection:
    def release(self) -> None:
        pass


@pytest.fixture
def recorded_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each batch the relay publishes; the broker confirms every batch at once."""
    batches: list[int] = []

    class RecordingPublisher:
        def __init__(self, connection: Connection, *, timeout: float) -> None:
            self.connection = connection

        def publish(self, messages: list[Outgoing]) -> None:
            batches.append(len(messages))

    monkeypatch.setattr(relay_module, "connect", lambda _url: Connection())
    monkeypatch.setattr(relay_module, "keep_alive", lambda _connection: None)
    monkeypatch.setattr(relay_module, "ConfirmingPublisher", RecordingPublisher)
    return batches


def test_the_relay_lets_a_stream_fill_its_next_batch(
    make_runtime: Callable[..., Runtime], recorded_batches: list[int]
) -> None:
    runtime = make_runtime(LOANBRIDGE_BROKER_URL="amqp://relay-test//", LOANBRIDGE_EVENTS_BATCH_WINDOW="1.0")
    stop = threading.Event()
    thread = threading.Thread(target=OutboxRelay(runtime, stop).run)
    thread.start()
    try:
        for number in range(5):  # a commit every 20 ms, each of which wakes the relay (the same process)
            with runtime.unit_of_work() as uow:
                uow.emit("intake.lead.created", subject=f"lead-{number}", data={"lead_id": f"lead-{number}"})
                uow.commit()
            time.sleep(0.02)
        wait_until(lambda: sum(recorded_batches) == 5, timeout=10, message="every event published")
    finally:
        stop.set()
        thread.join(timeout=10)

    assert len(recorded_batches) <= 2  # the first event at once, the rest of the stream together
