"""What every adapter answers: sent, or failed with the provider's code and whether trying again may help."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class Result:
    ok: bool
    code: str
    transient: bool = False

    @classmethod
    def sent(cls, code: str = "ok") -> Result:
        return cls(ok=True, code=code)

    @classmethod
    def failed(cls, code: str, *, transient: bool) -> Result:
        return cls(ok=False, code=code[:64], transient=transient)


_local = threading.local()


def session() -> requests.Session:
    """One HTTP session per thread: connections are reused, and proxies come from settings, not the environment."""
    found: requests.Session | None = getattr(_local, "session", None)
    if found is None:
        found = requests.Session()
        found.trust_env = False
        _local.session = found
    return found


def post_json(url: str, body: dict[str, Any], *, timeout: float, params: dict[str, str] | None = None) -> Any:
    """POST JSON and answer the decoded reply, or a transient ``Result`` when the provider cannot be reached."""
    try:
        response = session().post(url, params=params, json=body, timeout=timeout)
    except requests.RequestException:
        return Result.failed("connection_error", transient=True)
    if response.status_code >= 500 or response.status_code == 429:
        return Result.failed(f"http_{response.status_code}", transient=True)
    if response.status_code >= 400:
        return Result.failed(f"http_{response.status_code}", transient=False)
    try:
        return response.json()
    except ValueError:
        return Result.failed("invalid_response", transient=True)
