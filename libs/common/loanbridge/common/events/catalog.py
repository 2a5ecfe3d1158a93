"""The event catalog v1 (ARCHITECTURE.md §3): every integration event type the suite publishes.

docs/events/ holds the JSON Schema of each type's data. reporting archives every one of them, so each has at
least one bound queue, and the alternate exchange only ever sees events no part of the suite knows.
"""

from __future__ import annotations

from loanbridge.common.events.envelope import routing_key

EVENT_TYPES: tuple[str, ...] = (
    "identity.user.created",
    "identity.user.updated",
    "identity.user.deactivated",
    "identity.team.created",
    "identity.team.updated",
    "intake.customer.created",
    "intake.customer.updated",
    "intake.lead.created",
    "intake.lead.updated",
    "intake.application.submitted",
    "intake.document.uploaded",
    "intake.followup.logged",
    "intake.channel.spend_recorded",
    "intake.product.published",
    "workflow.case.assigned",
    "workflow.case.recycled",
    "workflow.case.claimed",
    "workflow.stage.changed",
    "workflow.task.created",
    "workflow.task.completed",
    "workflow.task.overdue",
    "workflow.task.reminder_due",
    "workflow.lender.submitted",
    "workflow.lender.decided",
    "workflow.loan.disbursed",
    "workflow.repayment.recorded",
    "workflow.loan.overdue",
    "workflow.loan.settled",
    "risk.evaluation.completed",
    "risk.customer.graded",
    "notify.message.sent",
    "notify.message.failed",
)

ROUTING_KEYS: tuple[str, ...] = tuple(routing_key(event_type) for event_type in EVENT_TYPES)

PUBLISHED: frozenset[str] = frozenset(
    {
        "identity.user.created",
        "identity.user.updated",
        "identity.user.deactivated",
        "identity.team.created",
        "identity.team.updated",
        "intake.customer.created",
        "intake.customer.updated",
        "intake.lead.created",
        "intake.lead.updated",
        "intake.application.submitted",
        "intake.document.uploaded",
        "intake.followup.logged",
        "intake.channel.spend_recorded",
        "intake.product.published",
        "risk.evaluation.completed",
        "risk.customer.graded",
        "workflow.case.assigned",
        "workflow.case.recycled",
        "workflow.case.claimed",
        "workflow.stage.changed",
        "workflow.task.created",
        "workflow.task.completed",
        "workflow.task.overdue",
        "workflow.task.reminder_due",
        "workflow.lender.submitted",
        "workflow.lender.decided",
        "workflow.loan.disbursed",
        "workflow.repayment.recorded",
        "workflow.loan.overdue",
        "workflow.loan.settled",
        "notify.message.sent",
        "notify.message.failed",
    }
)
"""The types some service publishes today, each with its schema under docs/events/. A type joins this set in
the change that starts publishing it, together with its schema file."""

NOT_YET_PUBLISHED: frozenset[str] = frozenset(EVENT_TYPES) - PUBLISHED
