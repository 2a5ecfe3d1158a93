"""The events workflow consumes: {routing key: handler}. Its queue and bindings derive from this registry."""

from loanbridge.common.service import EventHandler

SUBSCRIPTIONS: dict[str, EventHandler] = {}
