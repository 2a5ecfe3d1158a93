"""The events notify consumes: {routing key: handler}. Its queue and bindings derive from this registry.

notify listens to the whole catalog but its own types: policies may name any event, and external webhooks may
subscribe to any of them.
"""

from loanbridge.common.events.catalog import EVENT_TYPES
from loanbridge.common.events.envelope import routing_key
from loanbridge.common.service import EventHandler
from loanbridge.notify.handlers import events

SUBSCRIPTIONS: dict[str, EventHandler] = {
    routing_key(event_type): events.on_event for event_type in EVENT_TYPES if not event_type.startswith("notify.")
}
