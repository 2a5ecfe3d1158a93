"""What the firm's risk decision does to a case in 资质初审 (ARCHITECTURE.md §3).

reject for 补充材料 → back to the owner with a supplement task naming what is missing; reject → the rejected
pool with the reasons; review with route_to → a review task for that role; approve → 方案匹配.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.errors import NotYet
from loanbridge.common.tables import inbox
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.workflow import orm
from loanbridge.workflow.handlers import tasks
from loanbridge.workflow.handlers.cases import get_case, move_by_system, record, require_case

SUPPLEMENT_REASON = "补充材料"
SUPPLEMENT_DAYS = 2
REVIEW_DAYS = 1
BEFORE_REVIEW = ("new", "assigned")


def needs_supplement(data: dict[str, Any]) -> bool:
    """A rejection that asks for more material rather than saying no."""
    if data["decision"] != "reject":
        return False
    if data.get("supplement_required") or data.get("missing_documents") or data.get("missing_fields"):
        return True
    return any(SUPPLEMENT_REASON in str(hit.get("reason", "")) for hit in data.get("hits") or [])


def on_evaluation_completed(uow: UnitOfWork, event: Envelope) -> None:
    """``risk.evaluation.completed``: move the case by the decision. An evaluation older than the last one
    applied changes nothing; one that arrives before its application reached 资质初审 waits (NotYet)."""
    data, when = event.data, event.occurred_at
    case = require_case(uow, data["lead_id"])
    if case.evaluated_at is not None and clock.as_utc(case.evaluated_at) >= when:
        return
    if case.stage in BEFORE_REVIEW and not _submission_applied(uow, event, case):
        raise NotYet(f"case {case.id} has not reached pre_review yet")
    uow.session.execute(orm.cases.update().where(orm.cases.c.id == case.id).values(evaluated_at=naive_utc(when)))
    summary = {"evaluation_id": data["evaluation_id"], "score": data.get("score"), "grade": data.get("grade")}
    record(uow, case_id=case.id, kind="evaluation", actor="system", to_value=data["decision"], details=summary)
    case = get_case(uow, case.id)
    if needs_supplement(data):
        _ask_for_supplement(uow, case, data)
    elif data["decision"] == "reject":
        given = data.get("reasons") or [hit.get("reason") for hit in data.get("hits") or [] if hit.get("reason")]
        reasons = "、".join(str(reason) for reason in given)
        move_by_system(uow, case=case, to="rejected", reason=f"风控拒绝:{reasons or '规则拒绝'}")
    elif data["decision"] == "review":
        _ask_for_review(uow, case, data)
    else:
        move_by_system(uow, case=case, to="plan_matching", reason="风控通过")


def _submission_applied(uow: UnitOfWork, event: Envelope, case: Any) -> bool:
    """Whether the submission this evaluation answers has reached the case: risk evaluates on
    ``intake.application.submitted``, so the evaluation's cause is that event, in workflow's inbox once applied.
    An evaluation with no cause (a re-evaluation) needs a submission no later than itself."""
    if event.causationid:
        applied = uow.session.execute(sa.select(inbox.c.event_id).where(inbox.c.event_id == event.causationid))
        return applied.first() is not None
    return case.submitted_at is not None and clock.as_utc(case.submitted_at) <= event.occurred_at


def _ask_for_supplement(uow: UnitOfWork, case: Any, data: dict[str, Any]) -> None:
    missing_documents = list(data.get("missing_documents") or [])
    missing_fields = list(data.get("missing_fields") or [])
    if case.stage == "pre_review":
        move_by_system(uow, case=case, to="assigned", reason=SUPPLEMENT_REASON)
        case = get_case(uow, case.id)
    tasks.cancel_open(uow, case_id=case.id, kinds=("supplement",))
    items = "、".join(missing_documents + missing_fields) or "风控要求的材料"
    tasks.create_task(
        uow,
        case=case,
        kind="supplement",
        title=f"补充材料:{items}"[:200],
        assignee_id=case.assignee_id,
        due_at=tasks.deadline(uow, clock.now(), SUPPLEMENT_DAYS, "working_days"),
        escalate_to="manager",
        details={
            "evaluation_id": data["evaluation_id"],
            "missing_documents": missing_documents,
            "missing_fields": missing_fields,
        },
    )


def _ask_for_review(uow: UnitOfWork, case: Any, data: dict[str, Any]) -> None:
    role = data.get("route_to") or "risk_officer"
    tasks.cancel_open(uow, case_id=case.id, kinds=("review",))
    tasks.create_task(
        uow,
        case=case,
        kind="review",
        title="人工复核风控结果",
        assignee_id=None,
        assignee_role=role,
        due_at=tasks.deadline(uow, clock.now(), REVIEW_DAYS, "working_days"),
        escalate_to="risk_director",
        details={"evaluation_id": data["evaluation_id"], "flags": list(data.get("flags") or [])},
    )
