"""workflow's web app."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime
from loanbridge.workflow.api import calendar, cases, loans, processes, work


def create_app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[processes.blp, cases.blp, work.blp, loans.blp, calendar.blp])
