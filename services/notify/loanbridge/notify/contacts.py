"""Contacts at send time: customers from intake, staff from identity, through their ``/internal/v1/contacts/``
endpoints with a service client's token (client_credentials). Nothing fetched here is stored."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests


class ContactsUnavailable(RuntimeError):
    """A contacts endpoint could not answer now (try again later)."""


class ContactSource(Protocol):
    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """``{"mobile", "opt_out"}`` of a customer, or None when unknown."""
        ...

    def staff(self, user_id: str) -> dict[str, Any] | None:
        """``{"mobile", "dingtalk_user_id", "wecom_user_id", "email", "manager_id"}`` of a staff member, or None."""
        ...


class NoContacts:
    """No contacts endpoints configured: messages that need a phone, robot id or address fail permanently."""

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return None

    def staff(self, user_id: str) -> dict[str, Any] | None:
        return None


@dataclass
class HttpContacts:
    identity_url: str
    intake_url: str
    client_id: str
    client_secret: str
    timeout: float = 5.0
    _token: str | None = field(default=None, repr=False)
    _expires: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        return self._get(f"{self.intake_url.rstrip('/')}/internal/v1/contacts/customers/{customer_id}")

    def staff(self, user_id: str) -> dict[str, Any] | None:
        return self._get(f"{self.identity_url.rstrip('/')}/internal/v1/contacts/staff/{user_id}")

    def _get(self, url: str) -> dict[str, Any] | None:
        for _ in range(2):
            try:
                response = requests.get(
                    url, headers={"Authorization": f"Bearer {self._bearer()}"}, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise ContactsUnavailable(type(exc).__name__) from exc
            if response.status_code == 401:
                self._token = None  # expired or rotated: fetch a new one once
                continue
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise ContactsUnavailable(f"http_{response.status_code}")
            answer: dict[str, Any] = response.json()
            return answer
        raise ContactsUnavailable("unauthorised")

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def _fetch_token(self) -> None:
        try:
            response = requests.post(
                f"{self.identity_url.rstrip('/')}/api/identity/v1/token",
                json={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ContactsUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise ContactsUnavailable(f"token_http_{response.status_code}")
        body = response.json()
        self._token = body["access_token"]
        # Renew a minute early so a token never expires between fetch and use.
        self._expires = time.monotonic() + max(30, int(body.get("expires_in", 300)) - 60)
