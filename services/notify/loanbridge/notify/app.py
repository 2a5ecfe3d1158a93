"""notify's web app: inbox, policies and templates, messages, webhooks and the SMS reply callback."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime
from loanbridge.notify.api import admin, inbox, webhooks


def create_app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[inbox.blp, admin.blp, webhooks.blp])
