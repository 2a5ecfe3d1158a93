"""reporting's web app: the KPI API and the dashboard page."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime
from loanbridge.reporting.api import dashboard, kpis


def create_app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[kpis.blp], plain_blueprints=[dashboard.blp])
