"""JSON log lines with the service name and the correlation id of the request or event in scope.

Log events name what happened and carry ids, counts and codes: never a name, mobile, ID number or request body.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from loanbridge.common import context


def _add_cause(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    cause = context.peek()
    if cause is None:
        return event
    event.setdefault("correlation_id", cause.correlation_id)
    if cause.causation_id:
        event.setdefault("causation_id", cause.causation_id)
    return event


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Route structlog and the standard library through one JSON renderer on stderr."""
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_cause,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # One write per record, the line with its newline, as the standard library's handler does: print() writes
        # the two apart, and a record another thread wrote in between joined this one's line.
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    # Werkzeug's and gunicorn's access lines carry query strings; our own request log replaces them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("gunicorn.access").disabled = True
