"""Every consumer applies a redelivered event once, and tolerates events arriving before what they need."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.events.errors import NotYet
from loanbridge.common.events.inbox import Outcome
from loanbridge.workflow import orm


def _history(suite: Any, case_id: str, kind: str) -> int:
    with suite.runtime.database.session() as session:
        return int(
            session.execute(
                sa.select(sa.func.count())
                .select_from(orm.case_history)
                .where(orm.case_history.c.case_id == case_id, orm.case_history.c.kind == kind)
            ).scalar_one()
        )


def test_an_application_submitted_twice_moves_the_case_once(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    suite.events()
    event = suite.submitted(case)

    assert suite.deliver(event, event) == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert len(suite.events("workflow.stage.changed")) == 1


def test_a_document_uploaded_twice_is_recorded_once(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    event = suite.event("intake.document.uploaded", {"lead_id": case["id"], "document_id": "d-1",
                                                     "doc_type": "id_card"}, subject=case["id"])  # fmt: skip

    suite.deliver(event, event)

    assert _history(suite, case["id"], "document") == 1


def test_a_grade_delivered_twice_reschedules_once(suite: Any) -> None:
    case = suite.lead(submitted_by="sales-zhang")
    suite.deliver(suite.followup(case, user_id="sales-zhang"))
    suite.events()
    event = suite.graded(case, "A")

    suite.deliver(event, event)

    created = [item for item in suite.events("workflow.task.created") if item.data["kind"] == "followup"]
    assert len(created) == 1


def test_a_team_and_a_user_delivered_twice_are_projected_once(suite: Any) -> None:
    team = suite.team()
    user = suite.user("sales-q")

    assert suite.deliver(team, user) == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    with suite.runtime.database.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(orm.staff)).scalar_one() == 1


@pytest.mark.parametrize("kind", ["submitted", "uploaded", "followup"])
def test_intakes_events_about_a_lead_not_known_yet_wait(suite: Any, kind: str) -> None:
    unknown = {"id": "9b2f1c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "customer_id": "c-1", "product": "house",
               "amount": 1, "term_months": 1, "channel": "douyin", "city": "济南"}  # fmt: skip
    events = {
        "submitted": lambda: suite.submitted(unknown),
        "uploaded": lambda: suite.event("intake.document.uploaded", {"lead_id": unknown["id"], "document_id": "d",
                                                                     "doc_type": "id_card"}, subject=unknown["id"]),
        "followup": lambda: suite.followup(unknown, user_id="sales-zhang"),
    }  # fmt: skip

    with pytest.raises(NotYet):
        suite.deliver(events[kind]())


def test_a_grade_for_a_customer_without_a_case_waits(suite: Any) -> None:
    with pytest.raises(NotYet):
        suite.deliver(suite.graded({"id": "l-1", "customer_id": "c-unknown"}, "A"))
