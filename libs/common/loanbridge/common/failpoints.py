"""Named fault-injection points for crash-safety tests; inert unless ``LOANBRIDGE_FAILPOINTS`` names them.

``LOANBRIDGE_FAILPOINTS="consumer.after_commit=exit@3,consumer.before_apply=raise"``: ``raise`` raises
``FailpointError`` each time the point is hit; ``exit`` ends the process at once with status 137, as SIGKILL
would, without flushing or acknowledging anything; ``@N`` fires only on the N-th hit.
"""

from __future__ import annotations

import os
import threading

import structlog

log = structlog.get_logger(__name__)


class FailpointError(RuntimeError):
    """Raised by a failpoint set to ``raise``."""


def _parse(spec: str) -> dict[str, tuple[str, int | None]]:
    points: dict[str, tuple[str, int | None]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        action, _, nth = action.partition("@")
        points[name] = (action or "raise", int(nth) if nth else None)
    return points


_points = _parse(os.environ.get("LOANBRIDGE_FAILPOINTS", ""))
_hits: dict[str, int] = {}
_lock = threading.Lock()


def hit(name: str) -> None:
    """Pass through a failpoint."""
    if name not in _points:
        return
    action, nth = _points[name]
    with _lock:
        _hits[name] = count = _hits.get(name, 0) + 1
    if nth is not None and count != nth:
        return
    log.warning("failpoint_fired", failpoint=name, action=action, hit=count)
    if action == "exit":
        os._exit(137)
    raise FailpointError(name)


def configure(spec: str) -> None:
    """Replace the active failpoints (unit tests)."""
    global _points
    _points = _parse(spec)
    _hits.clear()
