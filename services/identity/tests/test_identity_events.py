"""Component tests of the events identity writes to its outbox, and of its resync snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

from loanbridge.common.testing import harness
from loanbridge.identity.service import SERVICE

API = "/api/identity/v1"
PASSWORD = "staff-password-1"
USER_FIELDS = {"user_id", "display_name", "roles", "team_id", "region", "products", "active"}
TEAM_FIELDS = {"team_id", "name", "manager_id", "region"}
CONTACTS = {"mobile": "13812345678", "email": "zhang.san@jinan-loans.example.com", "wecom_user_id": "wecom-zs"}


def events_by_type(events: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for event in events:
        grouped.setdefault(event.type, []).append(event)
    return grouped


def test_staff_and_team_changes_are_published_with_catalog_fields_and_no_contacts(
    identity: Any, client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    manager = make_user(username="zhao.manager", password=PASSWORD, display_name="赵经理", roles=["manager"])
    team = client.post(
        f"{API}/teams", json={"name": "济南一组", "manager_id": manager["id"], "region": "济南"}, headers=admin_headers
    ).get_json()
    user = make_user(
        username="zhang.san",
        password=PASSWORD,
        display_name="张三",
        team_id=team["id"],
        region="济南",
        products=["house"],
        **CONTACTS,
    )
    client.patch(f"{API}/users/{user['id']}", json={"display_name": "张三丰"}, headers=admin_headers)
    client.patch(f"{API}/users/{user['id']}", json={"active": False}, headers=admin_headers)

    events = harness.drain_outbox(identity.runtime)

    grouped = events_by_type(events)
    assert [e.data["name"] for e in grouped["identity.team.created"]] == ["济南一组"]
    team_event = grouped["identity.team.created"][0]
    assert set(team_event.data) == TEAM_FIELDS
    assert team_event.data == {"team_id": team["id"], "name": "济南一组", "manager_id": manager["id"], "region": "济南"}
    assert team_event.subject == team["id"]

    created = [e for e in grouped["identity.user.created"] if e.subject == user["id"]]
    assert len(created) == 1
    assert set(created[0].data) == USER_FIELDS
    assert created[0].data == {
        "user_id": user["id"],
        "display_name": "张三",
        "roles": ["sales"],
        "team_id": team["id"],
        "region": "济南",
        "products": ["house"],
        "active": True,
    }
    assert created[0].routing_key == "identity.user.created.v1"
    assert created[0].source == "identity"

    updated = grouped["identity.user.updated"]
    assert [(e.subject, e.data["display_name"], e.data["active"]) for e in updated] == [(user["id"], "张三丰", True)]
    deactivated = grouped["identity.user.deactivated"]
    assert [(e.subject, e.data["active"]) for e in deactivated] == [(user["id"], False)]
    assert set(deactivated[0].data) == USER_FIELDS

    sequences = [e.sequence for e in events if e.subject == user["id"]]
    assert sequences == sorted(sequences) == [1, 2, 3]

    for event in events:
        raw = event.to_json()
        for value in CONTACTS.values():
            assert value not in raw
        assert "password" not in raw


def test_a_failed_write_publishes_nothing(identity: Any, client: Any, admin_headers: dict[str, str]) -> None:
    harness.drain_outbox(identity.runtime)

    response = client.post(
        f"{API}/users",
        json={
            "username": "zhang.san",
            "password": PASSWORD,
            "display_name": "张三",
            "roles": ["sales"],
            "team_id": "x",
        },
        headers=admin_headers,
    )

    assert response.status_code == 422
    assert harness.drain_outbox(identity.runtime) == []


def test_resync_re_emits_every_team_and_user_as_updated_snapshots(
    identity: Any, client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    manager = make_user(username="zhao.manager", password=PASSWORD, roles=["manager"])
    team = client.post(f"{API}/teams", json={"name": "济南一组", "manager_id": manager["id"]}, headers=admin_headers)
    user = make_user(username="zhang.san", password=PASSWORD, team_id=team.get_json()["id"], **CONTACTS)
    live = harness.drain_outbox(identity.runtime)

    count = SERVICE.resync(identity.runtime)
    snapshots = harness.drain_outbox(identity.runtime)

    assert count == len(snapshots) == 4  # the admin, the manager, the salesperson and the team
    assert {e.type for e in snapshots} == {"identity.team.updated", "identity.user.updated"}
    assert {e.subject for e in snapshots} == {e.subject for e in live}
    user_snapshot = next(e for e in snapshots if e.subject == user["id"])
    assert set(user_snapshot.data) == USER_FIELDS
    assert user_snapshot.data["team_id"] == team.get_json()["id"]
    live_sequence = max(e.sequence for e in live if e.subject == user["id"])
    assert user_snapshot.sequence > live_sequence
    team_snapshot = next(e for e in snapshots if e.type == "identity.team.updated")
    assert set(team_snapshot.data) == TEAM_FIELDS
    for event in snapshots:
        for value in CONTACTS.values():
            assert value not in event.to_json()


def test_changing_a_teams_manager_publishes_team_updated_and_moves_the_team_to_the_new_manager(
    identity: Any,
    client: Any,
    admin_headers: dict[str, str],
    make_user: Callable[..., dict[str, Any]],
    login: Callable[[str, str], str],
) -> None:
    make_user(username="zhao.manager", password=PASSWORD, roles=["manager"])
    first = make_user(username="zhao.manager2", password=PASSWORD, roles=["manager"])
    second = make_user(username="qian.manager", password=PASSWORD, roles=["manager"])
    team = client.post(f"{API}/teams", json={"name": "济南一组", "manager_id": first["id"]}, headers=admin_headers)
    team_id = team.get_json()["id"]
    member = make_user(username="zhang.san", password=PASSWORD, team_id=team_id)
    harness.drain_outbox(identity.runtime)

    changed = client.patch(f"{API}/teams/{team_id}", json={"manager_id": second["id"]}, headers=admin_headers)

    assert changed.status_code == 200
    events = harness.drain_outbox(identity.runtime)
    assert [(e.type, e.subject, e.sequence) for e in events] == [("identity.team.updated", team_id, 2)]
    assert events[0].data == {"team_id": team_id, "name": "济南一组", "manager_id": second["id"], "region": None}
    seen_by = {}
    for username in ("zhao.manager2", "qian.manager"):
        token = login(username, PASSWORD)
        assert jwt.decode(token, options={"verify_signature": False})["managed_team_ids"] == (
            [team_id] if username == "qian.manager" else []
        )
        listed = client.get(f"{API}/users", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200
        seen_by[username] = [user["id"] for user in listed.get_json()]
    assert seen_by == {"zhao.manager2": [], "qian.manager": [member["id"]]}
