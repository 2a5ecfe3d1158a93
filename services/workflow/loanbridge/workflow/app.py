"""The workflow web app. Its API arrives with the workflow issue; until then it serves health and metrics."""

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime


def create_app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[])
