"""The events reporting consumes: {routing key: handler}. Its queue and bindings derive from this registry."""

from loanbridge.common.service import EventHandler
from loanbridge.reporting import handlers

SUBSCRIPTIONS: dict[str, EventHandler] = {
    "intake.lead.created.v1": handlers.on_lead_recorded,
    "intake.lead.updated.v1": handlers.on_lead_recorded,
}
