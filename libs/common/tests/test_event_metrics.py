"""The metrics alerts read: events committed per type (the business counters) and the outbox backlog's age while
the broker is unreachable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from loanbridge.common import clock
from loanbridge.common.clock import FixedClock
from loanbridge.common.events import relay as relay_module
from loanbridge.common.events.relay import OutboxRelay
from loanbridge.common.runtime import Runtime
from loanbridge.common.testing.waiting import wait_until
from loanbridge.common.uow import UnitOfWork

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def emitted(service: str, event_type: str) -> float:
    return REGISTRY.get_sample_value("loanbridge_events_emitted_total", {"service": service, "type": event_type}) or 0


def test_a_committed_unit_of_work_counts_each_event_it_wrote_by_type(make_uow: Callable[[], UnitOfWork]) -> None:
    leads, stages = emitted("demo", "intake.lead.created"), emitted("demo", "workflow.stage.changed")

    with make_uow() as uow:
        uow.emit("intake.lead.created", subject="lead-1", data={"lead_id": "lead-1"})
        uow.emit("intake.lead.created", subject="lead-2", data={"lead_id": "lead-2"})
        uow.emit("workflow.stage.changed", subject="lead-1", data={"case_id": "lead-1"})
        uow.commit()

    assert emitted("demo", "intake.lead.created") == leads + 2
    assert emitted("demo", "workflow.stage.changed") == stages + 1


def test_a_unit_of_work_rolled_back_counts_nothing(make_uow: Callable[[], UnitOfWork]) -> None:
    before = emitted("demo", "intake.lead.created")

    with make_uow() as uow:
        uow.emit("intake.lead.created", subject="lead-1", data={"lead_id": "lead-1"})

    assert emitted("demo", "intake.lead.created") == before


def test_a_runtime_exports_zero_for_every_event_type_its_service_emits(make_runtime: Callable[..., Runtime]) -> None:
    make_runtime("intake")

    assert (
        REGISTRY.get_sample_value(
            "loanbridge_events_emitted_total", {"service": "intake", "type": "intake.lead.created"}
        )
        is not None
    )
    assert (
        REGISTRY.get_sample_value(
            "loanbridge_events_emitted_total", {"service": "intake", "type": "workflow.task.overdue"}
        )
        is None
    )


def test_outbox_backlog_age_keeps_growing_while_the_broker_is_unreachable(
    make_runtime: Callable[..., Runtime], monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime("backlogged", LOANBRIDGE_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")

    def refuse(_url: str) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(relay_module, "connect", refuse)
    fixed = FixedClock(START)
    clock.install(fixed)
    with runtime.unit_of_work() as uow:
        uow.emit("intake.lead.created", subject="lead-1", data={"lead_id": "lead-1"})
        uow.commit()
    fixed.advance(timedelta(minutes=10))
    stop = threading.Event()
    relay = OutboxRelay(runtime, stop)
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_until(
            lambda: (
                REGISTRY.get_sample_value("loanbridge_outbox_oldest_pending_age_seconds", {"service": "backlogged"})
                == 600.0
            ),
            message="backlog age reported while the broker refuses connections",
        )
        assert REGISTRY.get_sample_value("loanbridge_outbox_backlog", {"service": "backlogged"}) == 1
        assert not relay.connected.is_set()
    finally:
        stop.set()
        thread.join(timeout=10)
