"""The dashboard at ``/dashboard/``: a static zh-CN page with Apache ECharts bundled (no CDN), that signs in
against identity and reads the KPI API with the user's token."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).resolve().parent.parent / "static"

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@blp.get("/")
def index() -> Response:
    """The dashboard page."""
    return _static("index.html")


@blp.get("/static/<path:name>")
def asset(name: str) -> Response:
    """The page's script, styles and the bundled ECharts."""
    return _static(name)


def _static(name: str) -> Response:
    response = send_from_directory(STATIC, name, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
