"""The events workflow consumes: {routing key: handler}. Its queue and bindings derive from this registry."""

from loanbridge.common.service import EventHandler
from loanbridge.workflow.handlers import cases, pool, risk, staff

SUBSCRIPTIONS: dict[str, EventHandler] = {
    "identity.user.created.v1": staff.on_user_changed,
    "identity.user.updated.v1": pool.on_staff_changed,
    "identity.user.deactivated.v1": pool.on_staff_changed,
    "identity.team.created.v1": staff.on_team_changed,
    "identity.team.updated.v1": staff.on_team_changed,
    "intake.lead.created.v1": cases.on_lead_created,
    "intake.application.submitted.v1": cases.on_application_submitted,
    "intake.document.uploaded.v1": cases.on_document_uploaded,
    "intake.followup.logged.v1": cases.on_followup_logged,
    "risk.evaluation.completed.v1": risk.on_evaluation_completed,
    "risk.customer.graded.v1": cases.on_customer_graded,
}
