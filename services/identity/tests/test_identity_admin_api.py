"""Component tests of identity's admin API: users, teams, partners, service clients, and the create-admin command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from loanbridge.identity import handlers, orm
from loanbridge.identity.commands import create_admin

API = "/api/identity/v1"
PASSWORD = "staff-password-1"

ADMIN_ONLY_WRITES = [
    ("/users", {"username": "wang.wu", "password": PASSWORD, "display_name": "王五", "roles": ["sales"]}),
    ("/teams", {"name": "青岛二组"}),
    ("/partners", {"name": "融通数科"}),
    ("/service-clients", {"name": "notify"}),
]


def count_rows(identity: Any, table: sa.Table) -> int:
    with identity.runtime.database.session() as session:
        return session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize(("path", "body"), ADMIN_ONLY_WRITES, ids=[path for path, _ in ADMIN_ONLY_WRITES])
def test_admin_writes_need_a_token(client: Any, path: str, body: dict[str, Any]) -> None:
    response = client.post(f"{API}{path}", json=body)

    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthenticated"


@pytest.mark.parametrize(("path", "body"), ADMIN_ONLY_WRITES, ids=[path for path, _ in ADMIN_ONLY_WRITES])
def test_admin_writes_are_forbidden_to_sales(
    identity: Any,
    client: Any,
    make_user: Callable[..., dict[str, Any]],
    login: Callable[[str, str], str],
    path: str,
    body: dict[str, Any],
) -> None:
    make_user(username="zhang.san", password=PASSWORD)
    before = {table.name: count_rows(identity, table) for table in (orm.users, orm.teams, orm.clients)}

    response = client.post(
        f"{API}{path}", json=body, headers={"Authorization": f"Bearer {login('zhang.san', PASSWORD)}"}
    )

    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"
    assert {table.name: count_rows(identity, table) for table in (orm.users, orm.teams, orm.clients)} == before


def test_admin_creates_a_user_and_reads_it_back_without_password_or_contacts(
    client: Any, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        f"{API}/users",
        json={
            "username": "zhang.san",
            "password": PASSWORD,
            "display_name": "张三",
            "roles": ["sales"],
            "region": "济南",
            "products": ["house", "credit"],
            "mobile": "13812345678",
        },
        headers=admin_headers,
    )

    assert response.status_code == 201
    created = response.get_json()
    assert created["username"] == "zhang.san"
    assert created["roles"] == ["sales"]
    assert created["products"] == ["credit", "house"]
    assert created["active"] is True
    read = client.get(f"{API}/users/{created['id']}", headers=admin_headers).get_json()
    assert read["id"] == created["id"]
    assert not {"password", "password_hash", "mobile", "mobile_enc"} & set(read)


def test_admin_gets_409_for_a_taken_username(
    client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user(username="zhang.san", password=PASSWORD)

    response = client.post(
        f"{API}/users",
        json={"username": "zhang.san", "password": PASSWORD, "display_name": "张三", "roles": ["sales"]},
        headers=admin_headers,
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "username_taken"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"roles": ["partner"]}, "roles"),
        ({"roles": []}, "roles"),
        ({"team_id": "no-such-team"}, "team_id"),
        ({"mobile": "12345"}, "mobile"),
        ({"password": "short"}, "password"),
        ({"nickname": "小张"}, "nickname"),
    ],
)
def test_bad_user_bodies_are_422_naming_the_field(
    identity: Any, client: Any, admin_headers: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    users_before = count_rows(identity, orm.users)
    body = {"username": "zhang.san", "password": PASSWORD, "display_name": "张三", "roles": ["sales"], **changes}

    response = client.post(f"{API}/users", json=body, headers=admin_headers)

    assert response.status_code == 422
    assert field in response.get_json()["details"]["fields"]
    assert count_rows(identity, orm.users) == users_before


def test_admin_creates_a_team_with_its_manager(
    client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    manager = make_user(username="zhao.manager", password=PASSWORD, roles=["manager"])

    response = client.post(
        f"{API}/teams", json={"name": "济南一组", "manager_id": manager["id"], "region": "济南"}, headers=admin_headers
    )

    assert response.status_code == 201
    team = response.get_json()
    assert team["name"] == "济南一组"
    assert team["manager_id"] == manager["id"]
    assert [t["id"] for t in client.get(f"{API}/teams", headers=admin_headers).get_json()] == [team["id"]]


def test_team_with_an_unknown_manager_is_422(client: Any, admin_headers: dict[str, str]) -> None:
    response = client.post(f"{API}/teams", json={"name": "济南一组", "manager_id": "nobody"}, headers=admin_headers)

    assert response.status_code == 422
    assert "manager_id" in response.get_json()["details"]["fields"]


def test_partner_secret_is_shown_once_and_the_partner_list_has_no_secret(
    client: Any, admin_headers: dict[str, str], identity_db_path: Any
) -> None:
    response = client.post(f"{API}/partners", json={"name": "融通数科"}, headers=admin_headers)

    assert response.status_code == 201
    created = response.get_json()
    assert created["client_secret"]
    assert created["partner_id"]
    assert created["kind"] == "partner"
    listing = client.get(f"{API}/partners", headers=admin_headers)
    assert listing.status_code == 200
    assert listing.get_json() == [
        {"partner_id": created["partner_id"], "client_id": created["client_id"], "name": "融通数科"}
    ]
    assert created["client_secret"] not in listing.get_data(as_text=True)
    stored = b"".join(path.read_bytes() for path in identity_db_path.parent.glob("identity.db*"))
    assert created["client_secret"].encode() not in stored


def test_partner_list_is_admin_only(
    client: Any, make_user: Callable[..., dict[str, Any]], login: Callable[[str, str], str]
) -> None:
    make_user(username="zhang.san", password=PASSWORD)

    assert client.get(f"{API}/partners").status_code == 401
    sales = {"Authorization": f"Bearer {login('zhang.san', PASSWORD)}"}
    assert client.get(f"{API}/partners", headers=sales).status_code == 403


def test_service_client_token_carries_role_service_and_cannot_use_the_admin_api(
    client: Any, admin_headers: dict[str, str]
) -> None:
    created = client.post(f"{API}/service-clients", json={"name": "notify"}, headers=admin_headers)
    assert created.status_code == 201
    credentials = created.get_json()
    assert credentials["kind"] == "service"

    token = client.post(
        f"{API}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
    ).get_json()["access_token"]

    response = client.get(f"{API}/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_ensure_admin_twice_keeps_one_admin_and_resets_its_password(
    identity: Any, login: Callable[[str, str], str]
) -> None:
    runtime = identity.runtime
    first = runtime.transaction(handlers.ensure_admin, config=runtime.config, username="root", password="first-pass-1")
    second = runtime.transaction(
        handlers.ensure_admin, config=runtime.config, username="root", password="second-pass-2"
    )

    assert first == second
    assert count_rows(identity, orm.users) == 1
    token = login("root", "second-pass-2")
    assert token
    stale = identity.client().post(
        f"{API}/token", data={"grant_type": "password", "username": "root", "password": "first-pass-1"}
    )
    assert stale.status_code == 401


def test_create_admin_command_is_idempotent(identity: Any, identity_env: dict[str, str]) -> None:
    runner = CliRunner()

    first = runner.invoke(create_admin, ["--username", "root", "--password", "root-pass-1"], env=identity_env)
    second = runner.invoke(create_admin, ["--username", "root", "--password", "root-pass-1"], env=identity_env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    with identity.runtime.database.session() as session:
        rows = session.execute(sa.select(orm.users.c.username, orm.users.c.roles)).all()
    assert [(row.username, orm.load_list(row.roles)) for row in rows] == [("root", ["admin"])]
