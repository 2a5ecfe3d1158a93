"""The broker's shape from the subscription registries: exchanges, quorum queues, retries, dead letters, bindings
(declared on a fake channel that records every call)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from loanbridge.common.config import EventSettings
from loanbridge.common.events.topology import (
    EXCHANGE,
    UNROUTABLE_EXCHANGE,
    UNROUTABLE_QUEUE,
    ServiceQueues,
    declare,
)

SETTINGS = EventSettings(broker_url=None, retry_delays=(1.0, 5.0, 30.0), delivery_limit=7)


@dataclass
class RecordingChannel:
    """Records what would be declared on a pika/amqp channel."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def exchange_declare(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("exchange_declare", args, kwargs))

    def queue_declare(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("queue_declare", args, kwargs))

    def queue_bind(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("queue_bind", args, kwargs))

    def exchanges(self) -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
        return {args[0]: (args, kwargs) for name, args, kwargs in self.calls if name == "exchange_declare"}

    def queues(self) -> dict[str, dict[str, Any]]:
        return {args[0]: kwargs for name, args, kwargs in self.calls if name == "queue_declare"}

    def bindings(self) -> list[tuple[Any, ...]]:
        return [args for name, args, _kwargs in self.calls if name == "queue_bind"]

    def order(self, kind: str, name: str) -> int:
        return next(i for i, (call, args, _) in enumerate(self.calls) if call == kind and args[0] == name)


@pytest.fixture
def channel() -> RecordingChannel:
    recording = RecordingChannel()
    declare(
        recording,
        {
            "workflow": ["intake.lead.created.v1", "risk.evaluation.completed.v1", "intake.lead.created.v1"],
            "reporting": ["intake.lead.created.v1"],
            "identity": [],
        },
        SETTINGS,
    )
    return recording


def test_events_exchange_is_a_durable_topic_with_the_unroutable_alternate(channel: RecordingChannel) -> None:
    args, kwargs = channel.exchanges()[EXCHANGE]

    assert args == (EXCHANGE, "topic")
    assert kwargs == {"durable": True, "auto_delete": False, "arguments": {"alternate-exchange": UNROUTABLE_EXCHANGE}}


def test_unroutable_events_land_in_a_durable_quorum_queue(channel: RecordingChannel) -> None:
    args, kwargs = channel.exchanges()[UNROUTABLE_EXCHANGE]

    assert args == (UNROUTABLE_EXCHANGE, "fanout")
    assert kwargs["durable"] is True
    assert channel.queues()[UNROUTABLE_QUEUE] == {
        "durable": True,
        "auto_delete": False,
        "arguments": {"x-queue-type": "quorum"},
    }
    assert (UNROUTABLE_QUEUE, UNROUTABLE_EXCHANGE, "") in channel.bindings()


def test_alternate_exchange_exists_before_the_events_exchange_names_it(channel: RecordingChannel) -> None:
    assert channel.order("exchange_declare", UNROUTABLE_EXCHANGE) < channel.order("exchange_declare", EXCHANGE)


def test_service_queue_is_quorum_with_a_delivery_limit_and_its_dead_letter_queue(channel: RecordingChannel) -> None:
    main = channel.queues()["workflow.events"]

    assert main["durable"] is True
    assert main["auto_delete"] is False
    assert main["arguments"] == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 7,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "workflow.events.dlq",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert channel.queues()["workflow.events.dlq"]["arguments"] == {"x-queue-type": "quorum"}


def test_dead_letter_queue_is_declared_before_the_queue_that_dead_letters_into_it(channel: RecordingChannel) -> None:
    assert channel.order("queue_declare", "workflow.events.dlq") < channel.order("queue_declare", "workflow.events")


def test_each_retry_delay_has_a_hold_queue_that_sends_back_to_the_service_queue(channel: RecordingChannel) -> None:
    queues = channel.queues()

    for name, ttl in [
        ("workflow.events.retry.1000ms", 1000),
        ("workflow.events.retry.5000ms", 5000),
        ("workflow.events.retry.30000ms", 30000),
    ]:
        assert queues[name]["arguments"] == {
            "x-queue-type": "quorum",
            "x-message-ttl": ttl,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "workflow.events",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }


def test_service_queue_is_bound_once_per_routing_key_of_its_registry(channel: RecordingChannel) -> None:
    workflow = sorted(binding for binding in channel.bindings() if binding[0] == "workflow.events")

    assert workflow == [
        ("workflow.events", EXCHANGE, "intake.lead.created.v1"),
        ("workflow.events", EXCHANGE, "risk.evaluation.completed.v1"),
    ]
    assert [binding for binding in channel.bindings() if binding[0] == "reporting.events"] == [
        ("reporting.events", EXCHANGE, "intake.lead.created.v1")
    ]


def test_service_without_subscriptions_gets_no_queues(channel: RecordingChannel) -> None:
    assert not [name for name in channel.queues() if name.startswith("identity.")]


def test_declaring_twice_makes_exactly_the_same_calls() -> None:
    first, second = RecordingChannel(), RecordingChannel()
    bindings = {"notify": ["workflow.task.created.v1", "workflow.task.overdue.v1"]}

    declare(first, bindings, SETTINGS)
    declare(second, {"notify": list(reversed(bindings["notify"]))}, SETTINGS)

    assert first.calls == second.calls


def test_later_retries_reuse_the_longest_delay() -> None:
    queues = ServiceQueues("risk", (0.5, 2.0))

    assert queues.retry(1) == ("risk.events.retry.500ms", 0.5)
    assert queues.retry(2) == ("risk.events.retry.2000ms", 2.0)
    assert queues.retry(9) == ("risk.events.retry.2000ms", 2.0)
    assert queues.retry_queues == [("risk.events.retry.500ms", 0.5), ("risk.events.retry.2000ms", 2.0)]
    assert (queues.main, queues.dead_letter) == ("risk.events", "risk.events.dlq")
