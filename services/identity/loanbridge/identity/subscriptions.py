"""The events identity consumes: none; it only produces identity.user.* and identity.team.*."""

from loanbridge.common.service import EventHandler

SUBSCRIPTIONS: dict[str, EventHandler] = {}
