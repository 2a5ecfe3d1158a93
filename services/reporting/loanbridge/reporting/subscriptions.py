"""The events reporting consumes: {routing key: handler}. Its queue and bindings derive from this registry.

reporting archives every event of the catalog (read models are rebuilt from the archive) and projects those its
KPIs read (``handlers.PROJECTIONS``); the others are kept in the archive only, for KPIs still to come.
"""

from loanbridge.common.events.catalog import ROUTING_KEYS
from loanbridge.common.service import EventHandler
from loanbridge.reporting import handlers

SUBSCRIPTIONS: dict[str, EventHandler] = {key: handlers.on_event for key in ROUTING_KEYS}
