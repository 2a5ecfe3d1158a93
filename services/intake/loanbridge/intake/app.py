"""intake's web app."""

from __future__ import annotations

from flask import Flask

from loanbridge.common.app import build_app
from loanbridge.common.runtime import Runtime
from loanbridge.intake.api import channels, customers, documents, imports, leads, products

UPLOAD_OVERHEAD = 64 * 1024


def create_app(runtime: Runtime) -> Flask:
    app = build_app(
        runtime,
        blueprints=[
            leads.blp,
            customers.blp,
            documents.blp,
            imports.blp,
            products.blp,
            channels.blp,
            customers.internal,
        ],
    )
    # Document uploads may be larger than the JSON bodies every other route takes.
    app.config["MAX_CONTENT_LENGTH"] = runtime.config.max_document_bytes + UPLOAD_OVERHEAD
    return app
