"""The events risk consumes: {routing key: handler}. Its queue and bindings derive from this registry."""

from loanbridge.common.service import EventHandler
from loanbridge.risk.handlers import evaluations, grades, products

SUBSCRIPTIONS: dict[str, EventHandler] = {
    "intake.product.published.v1": products.on_product_published,
    "intake.lead.created.v1": grades.on_lead_created,
    "intake.followup.logged.v1": grades.on_followup_logged,
    "intake.application.submitted.v1": evaluations.on_application_submitted,
}
