"""The read models written per table at a batch's commit (``batching``, ``handlers.ReadModels``): repeated changes
of one row merged in memory give what applying them one by one gives, in a batch, across batches and in any order;
on SQLite, and on the local MariaDB when it answers (its upsert assigns left to right)."""

from __future__ import annotations

import os
import random
import secrets
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.db import drop_database, ensure_database
from loanbridge.common.events.envelope import Envelope, new_id
from loanbridge.common.events.inbox import Outcome, apply_events
from loanbridge.common.testing import harness
from loanbridge.reporting import handlers, orm
from loanbridge.reporting.batching import Group, PendingRows, Upsert, earlier, latest, newer


def fixed_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"loanbridge-reporting-test/{name}"))


# --- merging in memory ----------------------------------------------------------------------------------------

ITEMS = sa.Table(
    "items",
    sa.MetaData(),
    sa.Column("id", sa.String(8), primary_key=True),
    sa.Column("kind", sa.String(8)),
    sa.Column("name", sa.String(8)),
    sa.Column("sequence", sa.Integer),
    sa.Column("first_at", sa.DateTime),
    sa.Column("status", sa.String(8)),
    sa.Column("done_at", sa.DateTime),
)
NAME = Group(("name", "sequence"), newer("sequence"))
FIRST = Group(("first_at",), earlier("first_at"))
STATUS = Group(("status", "done_at"), latest("done_at"))
SPEC = Upsert(ITEMS, ("id",), inserted=("kind",), groups=(NAME, FIRST, STATUS))


def at(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour)


def merged(*changes: tuple[dict[str, Any], Group | None]) -> list[dict[str, Any]]:
    pending = PendingRows(SPEC)
    for values, group in changes:
        pending.add(values, group)
    return pending.values()


def test_the_newer_sequence_wins_in_either_order_and_the_first_of_equals_stays() -> None:
    older, newer_ = {"id": "a", "name": "old", "sequence": 1}, {"id": "a", "name": "new", "sequence": 2}
    tie = {"id": "a", "name": "tie", "sequence": 2}

    assert [row["name"] for row in merged((older, NAME), (newer_, NAME))] == ["new"]
    assert [row["name"] for row in merged((newer_, NAME), (older, NAME))] == ["new"]
    assert [row["name"] for row in merged((newer_, NAME), (tie, NAME))] == ["new"]


def test_the_earliest_time_wins_and_the_last_applied_wins_a_latest_group() -> None:
    rows = merged(
        ({"id": "a", "first_at": at(12)}, FIRST),
        ({"id": "a", "first_at": at(9)}, FIRST),
        ({"id": "a", "first_at": at(10)}, FIRST),
        ({"id": "a", "status": "approved", "done_at": at(11)}, STATUS),
        ({"id": "a", "status": "declined", "done_at": at(8)}, STATUS),
    )

    assert [(row["first_at"], row["status"], row["done_at"]) for row in rows] == [(at(9), "declined", at(8))]


def test_each_group_keeps_its_own_winner_and_a_group_no_change_carried_is_written_as_nulls() -> None:
    rows = merged(
        ({"id": "b", "kind": "first", "name": "x", "sequence": 5}, NAME),
        ({"id": "b", "kind": "second", "first_at": at(9)}, FIRST),
        ({"id": "b", "kind": "third", "name": "y", "sequence": 4}, NAME),
        ({"id": "a", "kind": "other"}, None),
    )

    # Inserted columns come from the row's first change; nothing set STATUS, so its guard (done_at) is NULL.
    assert rows == [
        {"id": "a", "kind": "other", "name": None, "sequence": None, "first_at": None, "status": None, "done_at": None},
        {"id": "b", "kind": "first", "name": "x", "sequence": 5, "first_at": at(9), "status": None, "done_at": None},
    ]


def test_a_task_keeps_the_columns_of_its_earliest_creation_the_first_of_equals_and_not_of_its_milestones() -> None:
    pending = PendingRows(handlers.TASKS)
    task = {"task_id": "t", "lead_id": "l", "assignee_id": "u"}
    pending.add({**task, "kind": "milestone", "completed_at": at(11)}, handlers.TASK_MILESTONE["completed_at"])
    for kind, hour in (("later", 10), ("first", 9), ("tie", 9)):
        pending.add(
            {**task, "kind": kind, "business_day": at(hour).date(), "created_at": at(hour)}, handlers.TASK_CREATED
        )

    [row] = pending.values()
    assert (row["kind"], row["created_at"], row["completed_at"], row["overdue_at"]) == ("first", at(9), at(11), None)


def test_a_group_may_not_share_a_column_with_another_or_hold_a_key() -> None:
    with pytest.raises(ValueError):
        Upsert(ITEMS, ("id",), groups=(NAME, Group(("name",), latest("name"))))
    with pytest.raises(ValueError):
        Upsert(ITEMS, ("id",), groups=(Group(("id", "done_at"), latest("done_at")),))


def test_the_worst_overdue_report_wins_by_days_then_by_the_later_sequence() -> None:
    pending = PendingRows(handlers.LOAN_FACTS)
    reports = [(35, 3, 100), (95, 4, 200), (95, 6, 300), (95, 5, 400), (40, 9, 500)]
    for days, sequence, outstanding in reports:
        values = {"loan_id": "n", "lead_id": "l", "worst_days_past_due": days, "worst_sequence": sequence}
        pending.add({**values, "worst_outstanding": outstanding}, handlers.WORST)

    [row] = pending.values()
    assert (row["worst_days_past_due"], row["worst_sequence"], row["worst_outstanding"]) == (95, 6, 300)
    assert row["lender"] is None and row["disbursed_at"] is None


# --- written to a database ------------------------------------------------------------------------------------

MARIADB = ("127.0.0.1", 3306)


def _mariadb_answers() -> bool:
    try:
        with socket.create_connection(MARIADB, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "mariadb"])
def make_reporting(
    request: pytest.FixtureRequest, tmp_path: Path, tokens: harness.TokenFactory
) -> Iterator[Callable[[], harness.ServiceUnderTest]]:
    """Fresh reporting services on SQLite, or each in a throw-away database on the local MariaDB."""
    if request.param == "mariadb" and not _mariadb_answers():
        missing = f"MariaDB is not answering on {MARIADB[0]}:{MARIADB[1]}"
        pytest.fail(missing + " (CI requires it)") if os.environ.get("CI") else pytest.skip(missing)
    made: list[harness.ServiceUnderTest] = []

    def make() -> harness.ServiceUnderTest:
        environ = harness.environment_for_tests(tmp_path / f"r{len(made)}")
        if request.param == "mariadb":
            environ["LOANBRIDGE_DATABASE_URL"] = (
                f"mysql+pymysql://root@{MARIADB[0]}:{MARIADB[1]}/lbtest_{secrets.token_hex(4)}_{{service}}"
            )
            ensure_database(environ["LOANBRIDGE_DATABASE_URL"].replace("{service}", "reporting"))
        made.append(harness.service_runtime("reporting", environ, tokens=tokens))
        return made[-1]

    yield make
    for service in made:
        service.runtime.database.dispose()
        if request.param == "mariadb":
            drop_database(service.runtime.settings.database_url)


def in_batches(service: harness.ServiceUnderTest, events: list[Envelope], size: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for start in range(0, len(events), size):
        outcomes += apply_events(service.runtime, events[start : start + size])
    return outcomes


def read_models(service: harness.ServiceUnderTest) -> dict[str, list[tuple[Any, ...]]]:
    with service.runtime.database.engine.connect() as connection:
        return {
            table.name: sorted(tuple(str(value) for value in row) for row in connection.execute(sa.select(table)))
            for table in orm.READ_MODELS
        }


def test_the_fixed_stream_in_batches_of_any_size_and_order_leaves_the_rows_one_by_one_leaves(
    make_reporting: Callable[[], harness.ServiceUnderTest], firm: Any
) -> None:
    events = firm.events
    one_by_one = make_reporting()
    in_batches(one_by_one, events, 1)
    expected = read_models(one_by_one)
    shuffled = list(events)
    random.Random(8).shuffle(shuffled)

    for order, size in ((events, len(events)), (shuffled, 7), (list(reversed(events)), 10), (shuffled, 1)):
        service = make_reporting()
        assert in_batches(service, order, size) == [Outcome.APPLIED] * len(events)
        assert read_models(service) == expected, (size, order is shuffled)

    assert expected["stage_visits"] and expected["lender_submissions"] and expected["loan_facts"]


def test_a_stage_change_that_arrives_in_a_later_batch_ends_the_stored_visit_before_it_and_is_ended_by_the_next(
    make_reporting: Callable[[], harness.ServiceUnderTest], firm: Any
) -> None:
    # L1's seven stage changes, assigned to disbursed, in sequence order (gaps: its case's other events).
    changes = [e for e in firm.events if e.type == "workflow.stage.changed" and e.subject == fixed_id("L1")]
    late = changes[3]
    service = make_reporting()

    in_batches(service, [event for event in changes if event is not late], 100)
    in_batches(service, [late, changes[0]], 100)  # the late one and a duplicate under another id below
    in_batches(service, [replace(changes[0], id=new_id())], 100)

    with service.runtime.database.engine.connect() as connection:
        visits = connection.execute(
            sa.select(orm.stage_visits.c.sequence, orm.stage_visits.c.stage, orm.stage_visits.c.left_at)
            .where(orm.stage_visits.c.lead_id == fixed_id("L1"))
            .order_by(orm.stage_visits.c.sequence)
        ).all()
    entered = [event.occurred_at.replace(tzinfo=None) for event in changes]
    assert [(visit.sequence, visit.stage) for visit in visits] == [
        (event.sequence, event.data["to_stage"]) for event in changes
    ]
    assert [visit.left_at for visit in visits] == [*entered[1:], None]


def test_two_events_of_one_fact_in_one_batch_merge_as_if_applied_one_after_the_other(
    make_reporting: Callable[[], harness.ServiceUnderTest], firm: Any
) -> None:
    firm = firm.events
    created = next(e for e in firm if e.type == "intake.lead.created" and e.subject == fixed_id("L3"))
    moved = replace(created, id=new_id(), type="intake.lead.updated", sequence=9, data={**created.data, "city": "烟台"})
    decided = next(e for e in firm if e.type == "workflow.lender.decided" and e.data["decision"] == "approved")
    overturned = replace(decided, id=new_id(), data={**decided.data, "decision": "declined", "approved_amount": None})
    overdue = [e for e in firm if e.type == "workflow.loan.overdue" and e.data["loan_id"] == fixed_id("N3")]
    events = [e for e in firm if e not in (created, decided, *overdue)]
    together = [moved, created, decided, overturned, overdue[1], overdue[0]]
    one_by_one, batched = make_reporting(), make_reporting()

    in_batches(one_by_one, events + together, 1)
    in_batches(batched, events, 100)
    in_batches(batched, together, 100)

    assert read_models(batched) == read_models(one_by_one)
    with batched.runtime.database.engine.connect() as connection:
        lead = connection.execute(sa.select(orm.lead_facts).where(orm.lead_facts.c.lead_id == fixed_id("L3"))).one()
        submission = connection.execute(
            sa.select(orm.lender_submissions).where(
                orm.lender_submissions.c.submission_id == decided.data["submission_id"]
            )
        ).one()
        loan = connection.execute(sa.select(orm.loan_facts).where(orm.loan_facts.c.loan_id == fixed_id("N3"))).one()
        evaluations = connection.execute(
            sa.select(orm.risk_evaluations.c.city).where(orm.risk_evaluations.c.lead_id == fixed_id("L3"))
        ).all()
    assert (lead.city, lead.last_sequence, lead.owner_id) == ("烟台", 9, fixed_id("wang"))
    assert lead.lender_approved_at is not None  # the approval was a milestone, whatever came after it
    assert (submission.decision, submission.approved_amount) == ("declined", None)  # the last decision applied
    assert (loan.worst_days_past_due, loan.principal) == (95, 450000)
    assert [row.city for row in evaluations] == ["烟台", "烟台"]  # the copies follow the newer attributes


def test_a_batch_that_changes_one_group_of_a_stored_row_leaves_its_other_columns_alone(
    make_reporting: Callable[[], harness.ServiceUnderTest], firm: Any
) -> None:
    events = [e for e in firm.events if fixed_id("L1") in (e.subject, e.data.get("case_id"), e.data.get("lead_id"))]

    def of(*types: str) -> list[Envelope]:
        return [event for event in events if event.type in types]

    def rows(service: harness.ServiceUnderTest) -> dict[str, dict[str, Any]]:
        with service.runtime.database.engine.connect() as connection:
            return {
                table.name: connection.execute(sa.select(table)).one()._asdict()
                for table in (orm.lead_facts, orm.lender_submissions, orm.loan_facts)
            }

    service = make_reporting()
    # The later events first: the decision before its submission, the overdue reports before the loan.
    in_batches(service, of("intake.lead.created", "workflow.lender.decided", "workflow.loan.overdue"), 100)
    before = rows(service)
    in_batches(service, of("workflow.case.assigned"), 100)
    in_batches(service, of("intake.application.submitted", "workflow.lender.submitted"), 100)
    in_batches(service, of("workflow.loan.disbursed"), 100)
    after = rows(service)

    changed = {table: {name for name in after[table] if after[table][name] != before[table][name]} for table in after}
    assert changed == {
        "lead_facts": {"owner_id", "team_id", "owner_sequence", "submitted_at", "lender_submitted_at", "disbursed_at"},
        "lender_submissions": {"submitted_at", "business_day", "owner_id", "team_id"},
        "loan_facts": {*handlers.LOAN_ATTRIBUTES, "owner_id", "team_id"},
    }
    assert before["lender_submissions"]["decision"] == "approved" and before["loan_facts"]["worst_days_past_due"] == 35
