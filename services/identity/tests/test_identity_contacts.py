"""Component tests of staff contacts: encrypted at rest, served in clear only to services, every read audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.tables import access_audit
from loanbridge.identity import orm

API = "/api/identity/v1"
PASSWORD = "staff-password-1"
CONTACTS = {
    "mobile": "13812345678",
    "dingtalk_user_id": "ding-zhangsan-0531",
    "wecom_user_id": "wecom-zhangsan-0531",
    "email": "zhang.san@jinan-loans.example.com",
}


def audit_rows(identity: Any) -> list[Any]:
    with identity.runtime.database.session() as session:
        return list(session.execute(sa.select(access_audit).order_by(access_audit.c.id)))


@pytest.fixture
def service_client(client: Any, admin_headers: dict[str, str]) -> dict[str, Any]:
    """A service client (role ``service``) and its token's header, as notify would hold them."""
    credentials = client.post(f"{API}/service-clients", json={"name": "notify"}, headers=admin_headers).get_json()
    token = client.post(
        f"{API}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
    ).get_json()["access_token"]
    return {"client_id": credentials["client_id"], "headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture
def service_headers(service_client: dict[str, Any]) -> dict[str, str]:
    return service_client["headers"]


@pytest.fixture
def staff_with_contacts(
    client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    manager = make_user(username="zhao.manager", password=PASSWORD, roles=["manager"])
    team = client.post(f"{API}/teams", json={"name": "济南一组", "manager_id": manager["id"]}, headers=admin_headers)
    user = make_user(username="zhang.san", password=PASSWORD, team_id=team.get_json()["id"], **CONTACTS)
    return {"user": user, "manager": manager}


def test_contacts_never_appear_in_clear_in_the_database_file(
    identity: Any, staff_with_contacts: dict[str, Any], identity_db_path: Path
) -> None:
    stored = b"".join(path.read_bytes() for path in identity_db_path.parent.glob("identity.db*"))
    assert stored, "the SQLite file should exist"

    for value in CONTACTS.values():
        assert value.encode() not in stored
    with identity.runtime.database.session() as session:
        row = session.execute(sa.select(orm.users).where(orm.users.c.username == "zhang.san")).one()
    columns = " ".join(str(value) for value in row._mapping.values())
    for value in CONTACTS.values():
        assert value not in columns
    assert row.mobile_enc and row.email_enc


def test_contacts_are_not_in_the_public_user_api(
    client: Any, admin_headers: dict[str, str], staff_with_contacts: dict[str, Any]
) -> None:
    user_id = staff_with_contacts["user"]["id"]

    answers = [
        client.get(f"{API}/users/{user_id}", headers=admin_headers).get_data(as_text=True),
        client.get(f"{API}/users", headers=admin_headers).get_data(as_text=True),
    ]

    for text in answers:
        for value in CONTACTS.values():
            assert value not in text


def test_service_token_reads_staff_contacts_with_the_manager_and_each_call_is_audited(
    identity: Any,
    client: Any,
    service_client: dict[str, Any],
    service_headers: dict[str, str],
    staff_with_contacts: dict[str, Any],
) -> None:
    user_id = staff_with_contacts["user"]["id"]
    audited_before = len(audit_rows(identity))

    first = client.get(f"/internal/v1/contacts/staff/{user_id}", headers=service_headers)
    second = client.get(f"/internal/v1/contacts/staff/{user_id}", headers=service_headers)

    assert first.status_code == 200
    assert first.get_json() == {
        "user_id": user_id,
        "manager_id": staff_with_contacts["manager"]["id"],
        **CONTACTS,
    }
    assert second.status_code == 200
    new_rows = audit_rows(identity)[audited_before:]
    assert len(new_rows) == 2
    for row in new_rows:
        assert row.actor == service_client["client_id"]
        assert row.action == "read_staff_contacts"
        assert row.resource == f"user:{user_id}"
        assert "mobile" in row.fields
        for value in CONTACTS.values():
            assert value not in f"{row.fields} {row.resource}"


def test_staff_admin_token_cannot_read_contacts_and_nothing_is_audited(
    identity: Any, client: Any, admin_headers: dict[str, str], staff_with_contacts: dict[str, Any]
) -> None:
    user_id = staff_with_contacts["user"]["id"]
    audited_before = len(audit_rows(identity))

    as_admin = client.get(f"/internal/v1/contacts/staff/{user_id}", headers=admin_headers)
    anonymous = client.get(f"/internal/v1/contacts/staff/{user_id}")

    assert as_admin.status_code == 403
    assert anonymous.status_code == 401
    for response in (as_admin, anonymous):
        for value in CONTACTS.values():
            assert value not in response.get_data(as_text=True)
    assert len(audit_rows(identity)) == audited_before


def test_partner_token_cannot_read_contacts(
    client: Any, admin_headers: dict[str, str], staff_with_contacts: dict[str, Any]
) -> None:
    partner = client.post(f"{API}/partners", json={"name": "融通数科"}, headers=admin_headers).get_json()
    token = client.post(
        f"{API}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": partner["client_id"],
            "client_secret": partner["client_secret"],
        },
    ).get_json()["access_token"]

    response = client.get(
        f"/internal/v1/contacts/staff/{staff_with_contacts['user']['id']}",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403


def test_contacts_of_an_unknown_user_are_404(client: Any, service_headers: dict[str, str]) -> None:
    response = client.get("/internal/v1/contacts/staff/no-such-user", headers=service_headers)

    assert response.status_code == 404


def test_changed_contacts_are_served_and_still_encrypted(
    identity: Any,
    client: Any,
    admin_headers: dict[str, str],
    service_headers: dict[str, str],
    staff_with_contacts: dict[str, Any],
    identity_db_path: Path,
) -> None:
    user_id = staff_with_contacts["user"]["id"]

    patched = client.patch(f"{API}/users/{user_id}", json={"mobile": "+86 139-0531-0000"}, headers=admin_headers)

    assert patched.status_code == 200
    contacts = client.get(f"/internal/v1/contacts/staff/{user_id}", headers=service_headers).get_json()
    assert contacts["mobile"] == "13905310000"
    assert contacts["email"] == CONTACTS["email"]
    stored = b"".join(path.read_bytes() for path in identity_db_path.parent.glob("identity.db*"))
    assert b"13905310000" not in stored
