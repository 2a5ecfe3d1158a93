"""Entry point for gunicorn: ``gunicorn 'loanbridge.common.wsgi:create("intake")'`` (``loanbridge web``)."""

from __future__ import annotations

from flask import Flask

from loanbridge.common import service as services
from loanbridge.common.logs import configure_logging
from loanbridge.common.runtime import Runtime


def create(service: str) -> Flask:
    """Build one service's app in a gunicorn worker, after the fork."""
    spec = services.get(service)
    runtime = Runtime(spec)
    configure_logging(service=service, level=runtime.settings.log_level)
    return spec.create_app(runtime)
