"""Contacts at send time: a service token from identity (client_credentials), then intake's and identity's
``/internal/v1/contacts/…``; an expired token is renewed once; an outage is "try later", an unknown id is None."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import notify_fakes as fakes
import pytest

from loanbridge.notify.contacts import ContactsUnavailable, HttpContacts


class FakeSuite:
    """identity's token endpoint and both contacts endpoints, checking the bearer token of each call."""

    def __init__(self) -> None:
        self.issued = 0
        self.valid: set[str] = set()
        self.calls: list[str] = []
        self.down = False

    def handle(self, request: Any, body: bytes) -> tuple[int, Any]:
        self.calls.append(request.path)
        if request.path == "/api/identity/v1/token":
            grant = json.loads(body)
            if (grant["grant_type"], grant["client_id"], grant["client_secret"]) != (
                "client_credentials", "s_notify", "notify-secret"):  # fmt: skip
                return 401, {"code": "invalid_client"}
            self.issued += 1
            token = f"token-{self.issued}"
            self.valid.add(token)
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 900}
        if self.down:
            return 503, {"code": "service_unavailable"}
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid:
            return 401, {"code": "unauthenticated"}
        if request.path == "/internal/v1/contacts/customers/c-1":
            return 200, {"customer_id": "c-1", "mobile": "13812345678", "opt_out": False}
        if request.path == "/internal/v1/contacts/staff/u-1":
            return 200, {"user_id": "u-1", "mobile": "13900001111", "dingtalk_user_id": "zhangsan",
                         "wecom_user_id": None, "email": "z@firm.example", "manager_id": "u-9"}  # fmt: skip
        return 404, {"code": "not_found"}


@pytest.fixture
def suite() -> Iterator[tuple[str, FakeSuite]]:
    found = FakeSuite()
    with fakes.http_server(found.handle) as base:
        yield base, found


def test_contacts_are_read_with_one_service_token_from_client_credentials(suite: Any) -> None:
    base, fake = suite
    contacts = HttpContacts(base, base, "s_notify", "notify-secret")

    customer, staff = contacts.customer("c-1"), contacts.staff("u-1")

    assert customer == {"customer_id": "c-1", "mobile": "13812345678", "opt_out": False}
    assert staff is not None and (staff["dingtalk_user_id"], staff["manager_id"]) == ("zhangsan", "u-9")
    assert fake.issued == 1


def test_a_token_the_suite_no_longer_accepts_is_renewed_once(suite: Any) -> None:
    base, fake = suite
    contacts = HttpContacts(base, base, "s_notify", "notify-secret")
    contacts.customer("c-1")
    fake.valid.clear()  # identity rotated its keys

    again = contacts.customer("c-1")

    assert again is not None and fake.issued == 2


def test_an_unknown_person_is_none_and_an_outage_is_try_later(suite: Any) -> None:
    base, fake = suite
    contacts = HttpContacts(base, base, "s_notify", "notify-secret")

    unknown = contacts.staff("nobody")
    fake.down = True

    assert unknown is None
    with pytest.raises(ContactsUnavailable):
        contacts.customer("c-1")


def test_a_wrong_client_secret_is_try_later_not_a_crash(suite: Any) -> None:
    base, _fake = suite

    with pytest.raises(ContactsUnavailable):
        HttpContacts(base, base, "s_notify", "wrong").customer("c-1")
