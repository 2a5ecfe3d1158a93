"""The events risk consumes: {routing key: handler}. Its queue and bindings derive from this registry."""

from loanbridge.common.service import EventHandler
from loanbridge.risk.handlers import evaluations, grades, owners, products

SUBSCRIPTIONS: dict[str, EventHandler] = {
    "intake.product.published.v1": products.on_product_published,
    "intake.lead.created.v1": grades.on_lead_created,
    "intake.followup.logged.v1": grades.on_followup_logged,
    "intake.application.submitted.v1": evaluations.on_application_submitted,
    "workflow.case.assigned.v1": owners.on_case_assigned,
    "workflow.case.claimed.v1": owners.on_case_claimed,
    "workflow.case.recycled.v1": owners.on_case_recycled,
    "identity.user.created.v1": owners.on_staff_changed,
    "identity.user.updated.v1": owners.on_staff_changed,
    "identity.user.deactivated.v1": owners.on_staff_changed,
}
