"""Reading the outbox: pending events oldest first, marking them published, backlog figures and pruning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.db import Database
from loanbridge.common.events import outbox
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.tables import outbox as outbox_table
from loanbridge.common.uow import UnitOfWork

MakeUow = Callable[[], UnitOfWork]
START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def emit(make_uow: MakeUow, *subjects: str) -> list[Envelope]:
    """Commit one event per subject, each in its own transaction."""
    envelopes = []
    for subject in subjects:
        with make_uow() as uow:
            envelopes.append(uow.emit("intake.lead.created", subject=subject, data={"lead_id": subject}))
            uow.commit()
    return envelopes


def test_pending_events_come_oldest_first_up_to_the_limit(make_uow: MakeUow, database: Database) -> None:
    envelopes = emit(make_uow, "lead-1", "lead-2", "lead-3")

    with database.session() as session, session.begin():
        pending = outbox.lock_pending(session, limit=2)

    assert [event.event_id for event in pending] == [envelopes[0].id, envelopes[1].id]
    assert pending[0].routing_key == "intake.lead.created.v1"
    assert pending[0].event_type == "intake.lead.created"
    assert Envelope.from_json(pending[0].envelope) == envelopes[0]


def test_published_events_are_no_longer_pending(make_uow: MakeUow, database: Database) -> None:
    envelopes = emit(make_uow, "lead-1", "lead-2", "lead-3")

    with use_clock(FixedClock(START)), database.session() as session, session.begin():
        first_two = outbox.lock_pending(session, limit=2)
        outbox.mark_published(session, [event.id for event in first_two])

    with database.session() as session, session.begin():
        remaining = outbox.lock_pending(session, limit=10)
        published_at = session.execute(
            sa.select(outbox_table.c.published_at).where(outbox_table.c.event_id == envelopes[0].id)
        ).scalar_one()

    assert [event.event_id for event in remaining] == [envelopes[2].id]
    assert published_at == START.replace(tzinfo=None)


def test_mark_published_rolled_back_leaves_the_events_pending(make_uow: MakeUow, database: Database) -> None:
    emit(make_uow, "lead-1")

    with database.session() as session:
        session.begin()
        outbox.mark_published(session, [event.id for event in outbox.lock_pending(session, limit=10)])
        session.rollback()

    with database.session() as session:
        assert len(outbox.lock_pending(session, limit=10)) == 1


def test_backlog_counts_pending_events_and_the_age_of_the_oldest(make_uow: MakeUow, database: Database) -> None:
    fixed = FixedClock(START)
    with use_clock(fixed):
        emit(make_uow, "lead-1")
        fixed.advance(timedelta(seconds=30))
        emit(make_uow, "lead-2", "lead-3")
        fixed.advance(timedelta(seconds=60))

        with database.session() as session:
            backlog = outbox.backlog(session)

        assert backlog.pending == 3
        assert backlog.oldest_created_at is not None
        assert backlog.oldest_age_seconds() == 90.0


def test_backlog_is_empty_when_everything_is_published(make_uow: MakeUow, database: Database) -> None:
    emit(make_uow, "lead-1")
    with database.session() as session, session.begin():
        outbox.mark_published(session, [event.id for event in outbox.lock_pending(session, limit=10)])

    with database.session() as session:
        backlog = outbox.backlog(session)

    assert backlog.pending == 0
    assert backlog.oldest_created_at is None
    assert backlog.oldest_age_seconds() == 0.0


def test_prune_deletes_only_published_events_past_the_retention(make_uow: MakeUow, database: Database) -> None:
    fixed = FixedClock(START)
    with use_clock(fixed):
        old = emit(make_uow, "lead-old-1", "lead-old-2", "lead-old-pending")
        with database.session() as session, session.begin():
            outbox.mark_published(session, [event.id for event in outbox.lock_pending(session, limit=2)])
        fixed.advance(outbox.PUBLISHED_RETENTION - timedelta(hours=1))
        recent = emit(make_uow, "lead-recent")
        with database.session() as session, session.begin():
            outbox.mark_published(session, [event.id for event in outbox.lock_pending(session, limit=10)][1:])
        fixed.advance(timedelta(hours=2))

        with database.session() as session, session.begin():
            pruned = outbox.prune_published(session)

    with database.engine.connect() as connection:
        left = connection.execute(sa.select(outbox_table.c.event_id).order_by(outbox_table.c.id)).scalars().all()
    assert pruned == 2
    assert left == [old[2].id, recent[0].id]


def test_prune_deletes_at_most_one_batch_at_a_time(make_uow: MakeUow, database: Database) -> None:
    fixed = FixedClock(START)
    with use_clock(fixed):
        emit(make_uow, *(f"lead-{n}" for n in range(5)))
        with database.session() as session, session.begin():
            outbox.mark_published(session, [event.id for event in outbox.lock_pending(session, limit=10)])
        fixed.advance(outbox.PUBLISHED_RETENTION + timedelta(days=1))

        batches = []
        for _ in range(4):
            with database.session() as session, session.begin():
                batches.append(outbox.prune_published(session, batch=2))

    assert batches == [2, 2, 1, 0]
