"""The events intake consumes: {routing key: handler}. Its queue and bindings derive from this registry."""

from loanbridge.common.service import EventHandler
from loanbridge.intake.handlers import projections

SUBSCRIPTIONS: dict[str, EventHandler] = {
    "identity.user.created.v1": projections.on_staff_changed,
    "identity.user.updated.v1": projections.on_staff_changed,
    "identity.user.deactivated.v1": projections.on_staff_changed,
    "workflow.case.assigned.v1": projections.on_case_assigned,
    "workflow.case.recycled.v1": projections.on_case_recycled,
    "workflow.case.claimed.v1": projections.on_case_claimed,
    "workflow.stage.changed.v1": projections.on_stage_changed,
    "risk.evaluation.completed.v1": projections.on_evaluation_completed,
    "risk.customer.graded.v1": projections.on_customer_graded,
}
