"""intake's web app."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime
from loanbridge.intake.api import channels, customers, leads, products


def create_app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[leads.blp, customers.blp, products.blp, channels.blp, customers.internal])
