"""risk's web app."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime
from loanbridge.risk.api import evaluations, lenders, rulesets


def create_app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[rulesets.blp, evaluations.blp, lenders.blp])
