"""The unit of work: state, outbox rows and inbox rows commit together or not at all; conflicts re-run, then 409."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from loanbridge.common import context
from loanbridge.common.db import Database
from loanbridge.common.errors import Conflict, NotFound
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.tables import access_audit, event_sequences, idempotency_keys, inbox, outbox
from loanbridge.common.uow import UnitOfWork, is_retryable_conflict, request_hash, run_transaction

MakeUow = Callable[[], UnitOfWork]


def count(database: Database, table: sa.Table) -> int:
    with database.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def outbox_rows(database: Database) -> list[Any]:
    with database.engine.connect() as connection:
        return connection.execute(sa.select(outbox).order_by(outbox.c.id)).all()


def emit_lead_created(uow: UnitOfWork, lead_id: str = "lead-1") -> Envelope:
    return uow.emit("intake.lead.created", subject=lead_id, data={"lead_id": lead_id})


def received_event(event_id: str = "3f0c1d7e-0000-4000-8000-000000000001") -> Envelope:
    return Envelope(
        id=event_id,
        source="intake",
        type="intake.lead.created",
        time="2026-01-01T00:00:00Z",
        subject="lead-1",
        sequence=1,
        data={"lead_id": "lead-1"},
        correlationid="req-1",
    )


# --- commit and rollback ----------------------------------------------------------------------------------------


def test_unit_of_work_that_is_not_committed_leaves_no_outbox_row_and_no_state(
    make_uow: MakeUow, database: Database
) -> None:
    with make_uow() as uow:
        emit_lead_created(uow)
        uow.audit(actor="user-1", action="read", resource="customer/1")
        insert_inbox_row(uow, received_event())

    assert count(database, outbox) == 0
    assert count(database, event_sequences) == 0
    assert count(database, access_audit) == 0
    assert count(database, inbox) == 0


def test_unit_of_work_rolls_back_when_the_handler_raises(make_uow: MakeUow, database: Database) -> None:
    with pytest.raises(NotFound), make_uow() as uow:
        emit_lead_created(uow)
        raise NotFound()

    assert count(database, outbox) == 0


def test_committed_unit_of_work_stores_the_event_it_emitted(make_uow: MakeUow, database: Database) -> None:
    with make_uow() as uow:
        envelope = emit_lead_created(uow)
        uow.commit()

    [row] = outbox_rows(database)
    assert row.event_id == envelope.id
    assert row.event_type == "intake.lead.created"
    assert row.routing_key == "intake.lead.created.v1"
    assert row.subject == "lead-1"
    assert row.published_at is None
    assert Envelope.from_json(row.envelope) == envelope
    assert envelope.source == "demo"


def test_commit_with_events_wakes_the_relay_and_commit_without_events_does_not(database: Database) -> None:
    wakes: list[str] = []

    with UnitOfWork(database, "demo", on_events_committed=lambda: wakes.append("wake")) as uow:
        uow.audit(actor="user-1", action="read", resource="customer/1")
        uow.commit()
    assert wakes == []

    with UnitOfWork(database, "demo", on_events_committed=lambda: wakes.append("wake")) as uow:
        emit_lead_created(uow)
    assert wakes == []

    with UnitOfWork(database, "demo", on_events_committed=lambda: wakes.append("wake")) as uow:
        emit_lead_created(uow)
        uow.commit()
    assert wakes == ["wake"]


def test_emitted_event_carries_the_cause_in_scope(make_uow: MakeUow) -> None:
    cause = context.Cause(correlation_id="req-77", causation_id="evt-5", actor="user-9")

    with context.caused_by(cause), make_uow() as uow:
        envelope = emit_lead_created(uow)

    assert (envelope.correlationid, envelope.causationid, envelope.actor) == ("req-77", "evt-5", "user-9")


def test_event_emitted_outside_any_request_gets_a_fresh_correlation_id(make_uow: MakeUow) -> None:
    with make_uow() as uow:
        first = emit_lead_created(uow, "lead-1")
        second = emit_lead_created(uow, "lead-2")

    assert first.correlationid and second.correlationid
    assert first.causationid is None
    assert first.actor is None


def test_audit_records_who_did_what_to_which_fields_and_the_request(make_uow: MakeUow, database: Database) -> None:
    with context.caused_by(context.Cause(correlation_id="req-5")), make_uow() as uow:
        uow.audit(actor="user-1", action="unmask", resource="customer/9", fields=["mobile", "id_number"])
        uow.commit()

    with database.engine.connect() as connection:
        [row] = connection.execute(sa.select(access_audit)).all()
    assert (row.actor, row.action, row.resource) == ("user-1", "unmask", "customer/9")
    assert row.fields == "mobile,id_number"
    assert row.request_id == "req-5"


def test_rows_inserted_at_commit_land_with_the_commit_and_vanish_with_a_rollback(
    make_uow: MakeUow, database: Database
) -> None:
    row = {"at": datetime(2026, 1, 1), "actor": "user-1", "action": "read", "resource": "r/1", "fields": ""}
    with make_uow() as uow:
        uow.insert_at_commit(access_audit, row)
    assert count(database, access_audit) == 0

    with make_uow() as uow:
        for resource in ("r/1", "r/2", "r/3"):
            uow.insert_at_commit(access_audit, {**row, "resource": resource})
        assert count(database, access_audit) == 0  # nothing written before the commit
        uow.commit()
    with database.engine.connect() as connection:
        assert sorted(connection.execute(sa.select(access_audit.c.resource)).scalars()) == ["r/1", "r/2", "r/3"]


def test_at_commit_collects_in_one_object_per_key_and_writes_it_once_at_commit_only(
    make_uow: MakeUow, database: Database
) -> None:
    row = {"at": datetime(2026, 1, 1), "actor": "user-1", "action": "read", "fields": ""}
    writes: list[list[str]] = []

    def write(session: Any, resources: list[str]) -> None:
        writes.append(list(resources))
        session.execute(access_audit.insert(), [{**row, "resource": resource} for resource in resources])

    with make_uow() as uow:
        uow.at_commit("audit", list, write).append("r/0")
    assert writes == [] and count(database, access_audit) == 0  # rolled back: never written

    with make_uow() as uow:
        for resource in ("r/1", "r/2"):
            uow.at_commit("audit", list, write).append(resource)
        uow.at_commit("other", list, write).append("r/3")
        assert writes == []  # nothing written before the commit
        uow.commit()
    assert writes == [["r/1", "r/2"], ["r/3"]]
    with database.engine.connect() as connection:
        assert sorted(connection.execute(sa.select(access_audit.c.resource)).scalars()) == ["r/1", "r/2", "r/3"]


def test_once_loads_a_value_once_per_unit_of_work(make_uow: MakeUow) -> None:
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    with make_uow() as uow:
        assert [uow.once("policies", load) for _ in range(3)] == [1, 1, 1]
    with make_uow() as uow:
        assert uow.once("policies", load) == 2


# --- sequences ----------------------------------------------------------------------------------------------------


def test_sequence_increments_per_subject_across_transactions(make_uow: MakeUow, database: Database) -> None:
    sequences = []
    for lead_id in ("lead-a", "lead-a", "lead-b", "lead-a", "lead-b"):
        with make_uow() as uow:
            sequences.append(emit_lead_created(uow, lead_id).sequence)
            uow.commit()

    assert sequences == [1, 2, 1, 3, 2]
    assert [(row.subject, row.sequence) for row in outbox_rows(database)] == [
        ("lead-a", 1),
        ("lead-a", 2),
        ("lead-b", 1),
        ("lead-a", 3),
        ("lead-b", 2),
    ]


def test_sequence_increments_within_one_transaction(make_uow: MakeUow) -> None:
    with make_uow() as uow:
        numbers = [emit_lead_created(uow, "lead-a").sequence for _ in range(3)]

    assert numbers == [1, 2, 3]


def test_rolled_back_event_does_not_use_up_a_sequence_number(make_uow: MakeUow) -> None:
    with make_uow() as uow:
        emit_lead_created(uow, "lead-a")
        uow.commit()
    with make_uow() as uow:
        emit_lead_created(uow, "lead-a")

    with make_uow() as uow:
        assert emit_lead_created(uow, "lead-a").sequence == 2


def insert_inbox_row(uow: UnitOfWork, event: Envelope) -> None:
    """A plain insert into the inbox: the same event twice is an IntegrityError."""
    uow.session.execute(
        inbox.insert().values(event_id=event.id, event_type=event.type, applied_at=datetime(2026, 1, 1))
    )


# --- inbox ----------------------------------------------------------------------------------------------------------


def test_an_event_is_claimed_once_and_only_by_a_committed_unit_of_work(make_uow: MakeUow) -> None:
    event = received_event()
    with make_uow() as uow:
        assert uow.claim_all([event]) == {event.id}  # rolled back: the claim goes with it
    with make_uow() as uow:
        assert uow.claim_all([event]) == {event.id}
        assert uow.claim_all([event]) == set()
        uow.commit()

    other = received_event("3f0c1d7e-0000-4000-8000-000000000002")
    with make_uow() as uow:
        assert uow.claim_all([event, other, other]) == {other.id}


# --- run_transaction ------------------------------------------------------------------------------------------------


def test_run_transaction_commits_and_returns_the_handler_result(make_uow: MakeUow, database: Database) -> None:
    def create_lead(uow: UnitOfWork, *, lead_id: str) -> str:
        emit_lead_created(uow, lead_id)
        return lead_id

    assert run_transaction(make_uow, create_lead, lead_id="lead-3") == "lead-3"
    assert [row.subject for row in outbox_rows(database)] == ["lead-3"]


def test_run_transaction_reruns_the_handler_after_an_integrity_error(make_uow: MakeUow, database: Database) -> None:
    runs: list[int] = []

    def apply_once(uow: UnitOfWork) -> str:
        runs.append(1)
        emit_lead_created(uow)
        if len(runs) == 1:
            insert_inbox_row(uow, received_event())
            insert_inbox_row(uow, received_event())  # the same primary key twice: IntegrityError
        return "second run"

    assert run_transaction(make_uow, apply_once) == "second run"
    assert len(runs) == 2
    assert count(database, outbox) == 1
    assert count(database, inbox) == 0


class ReadCommittedDatabase(Database):
    """The same SQLite file through a plain engine: a read takes no lock, so another request can commit between
    this one's read and its write, as on MySQL under READ COMMITTED."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False)


def test_second_run_of_conflicting_transaction_returns_first_result(database: Database) -> None:
    """Two requests with one Idempotency-Key: the loser's re-run finds and returns the winner's answer."""
    loser_database = ReadCommittedDatabase(database.url)
    body = {"name": "张三", "amount": 300000}
    digest = request_hash(body)
    runs: list[int] = []

    def winner_commits() -> None:
        with UnitOfWork(database, "demo") as winner:
            emit_lead_created(winner, "lead-first")
            winner.save_idempotent_response(
                scope="leads", key="k-1", request_hash=digest, status=201, response={"id": "lead-first"}
            )
            winner.commit()

    def create_lead(uow: UnitOfWork) -> tuple[int, Any]:
        runs.append(1)
        stored = uow.find_idempotent_response(scope="leads", key="k-1", request_hash=digest)
        if stored is not None:
            return stored
        if len(runs) == 1:
            winner_commits()  # between this request's read and its write
        emit_lead_created(uow, "lead-second")
        uow.save_idempotent_response(
            scope="leads", key="k-1", request_hash=digest, status=201, response={"id": "lead-second"}
        )
        return 201, {"id": "lead-second"}

    try:
        result = run_transaction(lambda: UnitOfWork(loser_database, "demo"), create_lead)
    finally:
        loser_database.dispose()

    assert result == (201, {"id": "lead-first"})
    assert len(runs) == 2
    assert [row.subject for row in outbox_rows(database)] == ["lead-first"]


def test_persistent_conflict_becomes_a_409_not_a_raw_database_error(make_uow: MakeUow, database: Database) -> None:
    runs: list[int] = []
    with make_uow() as uow:
        insert_inbox_row(uow, received_event())
        uow.commit()

    def always_conflicts(uow: UnitOfWork) -> None:
        runs.append(1)
        emit_lead_created(uow)
        insert_inbox_row(uow, received_event())

    with pytest.raises(Conflict) as raised:
        run_transaction(make_uow, always_conflicts, attempts=3)

    assert raised.value.status == 409
    assert raised.value.code == "concurrent_modification"
    assert raised.value.body()["message"]
    assert not isinstance(raised.value, sa.exc.DBAPIError)
    assert len(runs) == 3
    assert count(database, outbox) == 0


def test_domain_error_is_not_retried_and_commits_nothing(make_uow: MakeUow, database: Database) -> None:
    runs: list[int] = []

    def refuses(uow: UnitOfWork) -> None:
        runs.append(1)
        emit_lead_created(uow)
        raise NotFound()

    with pytest.raises(NotFound):
        run_transaction(make_uow, refuses)

    assert len(runs) == 1
    assert count(database, outbox) == 0


def test_sql_error_that_is_not_a_conflict_is_raised_once(make_uow: MakeUow) -> None:
    runs: list[int] = []

    def broken_query(uow: UnitOfWork) -> None:
        runs.append(1)
        uow.session.execute(sa.text("SELECT * FROM no_such_table"))

    with pytest.raises(sa.exc.OperationalError):
        run_transaction(make_uow, broken_query)

    assert len(runs) == 1


class _MySqlError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (sa.exc.IntegrityError("INSERT", {}, _MySqlError(1062, "Duplicate entry")), True),
        (sa.exc.OperationalError("UPDATE", {}, _MySqlError(1213, "Deadlock found")), True),
        (sa.exc.OperationalError("UPDATE", {}, _MySqlError(1205, "Lock wait timeout exceeded")), True),
        (sa.exc.OperationalError("SELECT", {}, _MySqlError(2003, "Can't connect to MySQL server")), False),
        (sa.exc.ProgrammingError("SELECT", {}, _MySqlError(1146, "Table doesn't exist")), False),
    ],
)
def test_unique_keys_deadlocks_and_lock_timeouts_are_retryable_conflicts(error: Exception, retryable: bool) -> None:
    assert is_retryable_conflict(error) is retryable


# --- idempotency keys -----------------------------------------------------------------------------------------------


def test_request_hash_is_stable_and_ignores_key_order() -> None:
    first = request_hash({"name": "张三", "amount": 300000, "form": {"a": 1, "b": 2}})
    again = request_hash({"form": {"b": 2, "a": 1}, "amount": 300000, "name": "张三"})

    assert first == again
    assert len(first) == 64
    assert request_hash({"name": "张三", "amount": 300001}) != request_hash({"name": "张三", "amount": 300000})


def test_idempotent_response_is_found_only_after_it_was_saved(make_uow: MakeUow) -> None:
    digest = request_hash({"amount": 1})
    with make_uow() as uow:
        assert uow.find_idempotent_response(scope="leads", key="k-1", request_hash=digest) is None
        uow.save_idempotent_response(
            scope="leads", key="k-1", request_hash=digest, status=201, response={"id": "lead-1", "name": "张*"}
        )
        uow.commit()

    with make_uow() as uow:
        found = uow.find_idempotent_response(scope="leads", key="k-1", request_hash=digest)

    assert found == (201, {"id": "lead-1", "name": "张*"})


def test_same_idempotency_key_with_a_different_body_is_a_conflict(make_uow: MakeUow) -> None:
    with make_uow() as uow:
        uow.save_idempotent_response(
            scope="leads", key="k-1", request_hash=request_hash({"amount": 1}), status=201, response={}
        )
        uow.commit()

    with pytest.raises(Conflict) as raised, make_uow() as uow:
        uow.find_idempotent_response(scope="leads", key="k-1", request_hash=request_hash({"amount": 2}))

    assert raised.value.status == 409
    assert raised.value.code == "idempotency_key_reused"


def test_idempotency_keys_of_different_scopes_do_not_collide(make_uow: MakeUow, database: Database) -> None:
    digest = request_hash({"amount": 1})
    with make_uow() as uow:
        uow.save_idempotent_response(scope="leads", key="k-1", request_hash=digest, status=201, response={"a": 1})
        uow.save_idempotent_response(scope="imports", key="k-1", request_hash=digest, status=202, response={"b": 2})
        uow.commit()

    with make_uow() as uow:
        assert uow.find_idempotent_response(scope="leads", key="k-1", request_hash=digest) == (201, {"a": 1})
        assert uow.find_idempotent_response(scope="imports", key="k-1", request_hash=digest) == (202, {"b": 2})
    assert count(database, idempotency_keys) == 2
