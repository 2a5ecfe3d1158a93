"""identity's web app. It verifies tokens with its own keys, read from its database, not over HTTP."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.auth import StaticKeys
from loanbridge.common.runtime import Runtime
from loanbridge.identity import handlers
from loanbridge.identity.api import clients, internal, staff, tokens


def create_app(runtime: Runtime) -> Flask:
    runtime.use_key_source(StaticKeys(lambda: runtime.transaction(handlers.current_jwks, config=runtime.config)))
    return build_app(runtime, blueprints=[tokens.blp, staff.blp, clients.blp, internal.blp])
