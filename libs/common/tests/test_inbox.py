"""Applying delivered events exactly once: the handler's effect and the inbox row commit together."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.events.inbox import Outcome, apply_event
from loanbridge.common.runtime import Runtime
from loanbridge.common.tables import access_audit, inbox
from loanbridge.common.testing.harness import deliver, drain_outbox
from loanbridge.common.uow import UnitOfWork

LEAD_CREATED = "intake.lead.created.v1"


def record_lead(uow: UnitOfWork, event: Envelope) -> None:
    """The consumer's effect: a row naming the lead, and an event of its own."""
    uow.audit(actor="system", action="lead_seen", resource=f"lead/{event.data['lead_id']}")
    uow.emit("workflow.case.assigned", subject=event.subject, data={"case_id": event.subject})


def effects(runtime: Runtime) -> list[str]:
    with runtime.database.engine.connect() as connection:
        return connection.execute(sa.select(access_audit.c.resource).order_by(access_audit.c.id)).scalars().all()


def inbox_ids(runtime: Runtime) -> list[str]:
    with runtime.database.engine.connect() as connection:
        return connection.execute(sa.select(inbox.c.event_id)).scalars().all()


def lead_created(lead_id: str = "lead-1") -> Envelope:
    return Envelope.new(
        source="intake",
        event_type="intake.lead.created",
        subject=lead_id,
        sequence=1,
        data={"lead_id": lead_id},
        correlation_id="req-1",
        causation_id=None,
        actor="user-1",
    )


def test_same_event_delivered_twice_has_one_effect(make_runtime: Callable[..., Runtime]) -> None:
    consumer = make_runtime("workflow", subscriptions={LEAD_CREATED: record_lead})
    event = lead_created()

    outcomes = [apply_event(consumer, event), apply_event(consumer, event)]

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert effects(consumer) == ["lead/lead-1"]
    assert inbox_ids(consumer) == [event.id]
    assert len(drain_outbox(consumer)) == 1


def test_failing_handler_commits_neither_effect_nor_inbox_row(make_runtime: Callable[..., Runtime]) -> None:
    calls: list[str] = []

    def flaky(uow: UnitOfWork, event: Envelope) -> None:
        calls.append(event.id)
        record_lead(uow, event)
        if len(calls) == 1:
            raise RuntimeError("downstream failed")

    consumer = make_runtime("workflow", subscriptions={LEAD_CREATED: flaky})
    event = lead_created()

    with pytest.raises(RuntimeError):
        apply_event(consumer, event)
    assert effects(consumer) == []
    assert inbox_ids(consumer) == []

    assert apply_event(consumer, event) is Outcome.APPLIED
    assert effects(consumer) == ["lead/lead-1"]


def test_not_yet_propagates_and_leaves_the_event_unapplied(make_runtime: Callable[..., Runtime]) -> None:
    def needs_case(uow: UnitOfWork, event: Envelope) -> None:
        record_lead(uow, event)
        raise NotYet("case not known yet")

    consumer = make_runtime("workflow", subscriptions={LEAD_CREATED: needs_case})

    with pytest.raises(NotYet):
        apply_event(consumer, lead_created())

    assert effects(consumer) == []
    assert inbox_ids(consumer) == []


def test_event_without_a_subscription_is_not_applied(make_runtime: Callable[..., Runtime]) -> None:
    consumer = make_runtime("workflow", subscriptions={"intake.lead.updated.v1": record_lead})

    assert apply_event(consumer, lead_created()) is Outcome.NOT_SUBSCRIBED
    assert inbox_ids(consumer) == []


def test_subscription_is_to_a_major_version(make_runtime: Callable[..., Runtime]) -> None:
    consumer = make_runtime("workflow", subscriptions={LEAD_CREATED: record_lead})
    version_2 = Envelope.new(
        source="intake",
        event_type="intake.lead.created",
        subject="lead-2",
        sequence=1,
        data={"lead_id": "lead-2"},
        correlation_id="req-2",
        causation_id=None,
        actor=None,
        major=2,
    )

    assert apply_event(consumer, version_2) is Outcome.NOT_SUBSCRIBED


def test_events_a_handler_emits_are_caused_by_the_event_it_applied(make_runtime: Callable[..., Runtime]) -> None:
    consumer = make_runtime("workflow", subscriptions={LEAD_CREATED: record_lead})
    event = lead_created()

    apply_event(consumer, event)
    [emitted] = drain_outbox(consumer)

    assert emitted.type == "workflow.case.assigned"
    assert emitted.source == "workflow"
    assert emitted.correlationid == event.correlationid
    assert emitted.causationid == event.id
    assert emitted.actor == "system:workflow"


def test_harness_moves_a_producers_events_to_a_consumer_once(make_runtime: Callable[..., Runtime]) -> None:
    producer = make_runtime("intake")
    consumer = make_runtime("workflow", subscriptions={LEAD_CREATED: record_lead})

    def create_leads(uow: UnitOfWork) -> None:
        for lead_id in ("lead-1", "lead-2"):
            uow.emit("intake.lead.created", subject=lead_id, data={"lead_id": lead_id})
        uow.emit("intake.channel.spend_recorded", subject="douyin", data={"channel": "douyin"})

    producer.transaction(create_leads)
    events = drain_outbox(producer)

    assert [event.type for event in events] == ["intake.lead.created"] * 2 + ["intake.channel.spend_recorded"]
    assert drain_outbox(producer) == []
    assert deliver(events, consumer) == [Outcome.APPLIED, Outcome.APPLIED]
    assert deliver(events, consumer) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert effects(consumer) == ["lead/lead-1", "lead/lead-2"]
