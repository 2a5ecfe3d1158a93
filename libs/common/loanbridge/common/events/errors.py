"""What an event handler may raise besides a bug, and how a failure is described."""

from loanbridge.common.errors import DomainError


class NotYet(Exception):
    """The event needs something not known yet (an evaluation before its case): retry later, not poison."""


class UnreadableEvent(Exception):
    """The message is not an envelope this service can parse: no retry can fix it."""


def error_label(exc: BaseException) -> str:
    """What a dead letter says about its failure: the error's type and code, never its text (it may hold data)."""
    if isinstance(exc, DomainError):
        return f"{type(exc).__name__}:{exc.code}"
    return type(exc).__name__
