"""The confirming publisher's time: a batch is confirmed or fails by its confirm timeout, and each publish is
counted in ``loanbridge_events_publish_seconds`` by outcome (the chaos run f reads it: no publish may block past
its confirm timeout)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from loanbridge.common import metrics
from loanbridge.common.events.broker import ConfirmingPublisher, Outgoing, PublishFailed


class FakeChannel:
    def __init__(self) -> None:
        self.events: dict[str, set[Callable[..., None]]] = defaultdict(set)
        self.published: list[Any] = []

    def confirm_select(self) -> None:
        pass

    def basic_publish(self, message: Any, **_: Any) -> None:
        self.published.append(message)


class FakeConnection:
    """A broker that confirms every message at once, or (``silent``) never answers."""

    def __init__(self, *, silent: bool) -> None:
        self.silent = silent
        self._channel = FakeChannel()

    def channel(self) -> FakeChannel:
        return self._channel

    def drain_events(self, timeout: float) -> None:
        if self.silent:
            time.sleep(min(timeout, 0.05))
            raise TimeoutError
        for on_ack in self._channel.events["basic_ack"]:
            on_ack(len(self._channel.published), True)


def outgoing(n: int) -> list[Outgoing]:
    return [Outgoing(exchange="x", routing_key="k", body=b"{}", message_id=str(i), event_type="t") for i in range(n)]


def observed(outcome: str) -> tuple[float, float]:
    """(count, sum) of the histogram's samples for ``outcome`` so far."""
    samples = {s.name: s.value for s in metrics.EVENTS_PUBLISH_SECONDS.labels(outcome)._samples()}  # type: ignore[attr-defined]
    return samples["_count"], samples["_sum"]


def test_a_confirmed_batch_is_observed_as_confirmed() -> None:
    before = observed("confirmed")
    ConfirmingPublisher(FakeConnection(silent=False), timeout=5).publish(outgoing(3))  # type: ignore[arg-type]

    count, total = observed("confirmed")
    assert count == before[0] + 1
    assert total - before[1] < 1


def test_a_batch_never_confirmed_fails_at_its_timeout_and_is_observed_as_failed() -> None:
    before = observed("failed")
    publisher = ConfirmingPublisher(FakeConnection(silent=True), timeout=0.3)  # type: ignore[arg-type]
    began = time.monotonic()

    with pytest.raises(PublishFailed):
        publisher.publish(outgoing(2))

    assert 0.3 <= time.monotonic() - began < 1.0
    count, total = observed("failed")
    assert count == before[0] + 1
    assert 0.3 <= total - before[1] < 1.0
