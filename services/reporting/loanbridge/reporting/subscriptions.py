"""The events reporting consumes: {routing key: handler}. Its queue and bindings derive from this registry.

reporting archives every event of the catalog (read models are rebuilt from the archive), and projects those
its KPIs read so far.
"""

from loanbridge.common.events.catalog import ROUTING_KEYS
from loanbridge.common.service import EventHandler
from loanbridge.reporting import handlers

PROJECTIONS: dict[str, EventHandler] = {
    "intake.lead.created.v1": handlers.on_lead_recorded,
    "intake.lead.updated.v1": handlers.on_lead_recorded,
}

SUBSCRIPTIONS: dict[str, EventHandler] = {key: PROJECTIONS.get(key, handlers.archive) for key in ROUTING_KEYS}
