"""What caused the work in progress: the request or event, and who asked.

A web request sets the correlation id from ``X-Request-ID`` and the actor from its token; a consumer sets the
correlation id and the causation id from the event it handles. Events written in that scope carry them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Cause:
    correlation_id: str
    causation_id: str | None = None
    actor: str | None = None


_cause: ContextVar[Cause | None] = ContextVar("loanbridge_cause", default=None)


def current() -> Cause:
    """The cause in scope, or a fresh one for work started by a timer or a command."""
    cause = _cause.get()
    return cause if cause is not None else Cause(correlation_id=new_id())


def peek() -> Cause | None:
    """The cause in scope, if any (logging must not invent one)."""
    return _cause.get()


@contextmanager
def caused_by(cause: Cause) -> Iterator[Cause]:
    """Run a block under a cause."""
    token = _cause.set(cause)
    try:
        yield cause
    finally:
        _cause.reset(token)


def enter(cause: Cause) -> Token[Cause | None]:
    """Start a cause that ends with ``leave`` (request hooks, where a ``with`` block cannot span the request)."""
    return _cause.set(cause)


def leave(token: Token[Cause | None]) -> None:
    _cause.reset(token)


def set_actor(actor: str | None) -> None:
    """Record who is acting, once the token of the request in scope is verified."""
    _cause.set(replace(current(), actor=actor))


def new_id() -> str:
    return str(uuid.uuid4())
