"""Component tests of identity's token endpoint, JWKS, lock-out and signing-key rotation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.identity import handlers

API = "/api/identity/v1"
PASSWORD = "right-password-1"


def verify_with_jwks(client: Any, token: str) -> dict[str, Any]:
    """Verify a token the way another service would: with the key of its kid from GET /jwks."""
    jwks = client.get(f"{API}/jwks").get_json()
    kid = jwt.get_unverified_header(token)["kid"]
    entry = next(key for key in jwks["keys"] if key["kid"] == kid)
    return jwt.decode(
        token,
        jwt.PyJWK(entry).key,
        algorithms=["RS256"],
        audience="loanbridge",
        issuer="loanbridge-identity",
    )


def password_grant(client: Any, username: str, password: str) -> Any:
    return client.post(f"{API}/token", data={"grant_type": "password", "username": username, "password": password})


def test_password_grant_with_form_body_answers_a_bearer_token(
    client: Any, make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user(username="zhang.san", password=PASSWORD)

    response = client.post(
        f"{API}/token",
        data={"grant_type": "password", "username": "zhang.san", "password": PASSWORD},
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


def test_password_grant_with_json_body_answers_a_bearer_token(
    client: Any, make_user: Callable[..., dict[str, Any]]
) -> None:
    user = make_user(username="zhang.san", password=PASSWORD)

    response = client.post(
        f"{API}/token", json={"grant_type": "password", "username": "zhang.san", "password": PASSWORD}
    )

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert verify_with_jwks(client, body["access_token"])["sub"] == user["id"]


def test_staff_token_verifies_against_jwks_and_carries_roles_team_and_managed_teams(
    client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    manager = make_user(username="zhao.manager", password=PASSWORD, roles=["manager"], region="济南")
    team = client.post(f"{API}/teams", json={"name": "济南一组", "manager_id": manager["id"]}, headers=admin_headers)
    team_id = team.get_json()["id"]
    joined = client.patch(f"{API}/users/{manager['id']}", json={"team_id": team_id}, headers=admin_headers)
    assert joined.status_code == 200

    token = password_grant(client, "zhao.manager", PASSWORD).get_json()["access_token"]
    claims = verify_with_jwks(client, token)

    assert claims["sub"] == manager["id"]
    assert claims["roles"] == ["manager"]
    assert claims["team_id"] == team_id
    assert claims["managed_team_ids"] == [team_id]
    assert claims["region"] == "济南"
    assert "partner_id" not in claims


def test_client_credentials_grant_gives_a_partner_token_with_its_partner_id(
    client: Any, admin_headers: dict[str, str]
) -> None:
    partner = client.post(f"{API}/partners", json={"name": "融通数科"}, headers=admin_headers).get_json()

    response = client.post(
        f"{API}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": partner["client_id"],
            "client_secret": partner["client_secret"],
        },
    )

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    claims = verify_with_jwks(client, body["access_token"])
    assert claims["sub"] == partner["client_id"]
    assert claims["roles"] == ["partner"]
    assert claims["partner_id"] == partner["partner_id"]


def test_client_credentials_grant_with_a_wrong_secret_is_refused(client: Any, admin_headers: dict[str, str]) -> None:
    partner = client.post(f"{API}/partners", json={"name": "融通数科"}, headers=admin_headers).get_json()

    response = client.post(
        f"{API}/token",
        json={"grant_type": "client_credentials", "client_id": partner["client_id"], "client_secret": "wrong"},
    )

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_client"


def test_unknown_user_gets_401(client: Any) -> None:
    response = password_grant(client, "nobody", PASSWORD)

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_credentials"
    assert "access_token" not in response.get_json()


def test_token_request_without_password_names_the_missing_field(client: Any) -> None:
    response = client.post(f"{API}/token", json={"grant_type": "password", "username": "zhang.san"})

    assert response.status_code == 422
    assert "password" in response.get_json()["details"]["fields"]


def test_five_failed_logins_lock_the_account_even_for_the_right_password(
    client: Any, make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user(username="zhang.san", password=PASSWORD)
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))):
        for _ in range(4):
            assert password_grant(client, "zhang.san", "wrong-password").status_code == 401
        fifth = password_grant(client, "zhang.san", "wrong-password")
        locked = password_grant(client, "zhang.san", PASSWORD)

    assert fifth.status_code == 401
    assert locked.status_code == 423
    assert locked.get_json()["code"] == "account_locked"
    assert locked.headers["Retry-After"] == str(15 * 60)
    assert "access_token" not in locked.get_json()


def test_account_lock_expires_after_the_lockout_period(client: Any, make_user: Callable[..., dict[str, Any]]) -> None:
    make_user(username="zhang.san", password=PASSWORD)
    with use_clock(FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))) as fixed:
        for _ in range(5):
            password_grant(client, "zhang.san", "wrong-password")
        fixed.advance(timedelta(minutes=14, seconds=59))
        still_locked = password_grant(client, "zhang.san", PASSWORD)
        fixed.advance(timedelta(seconds=2))
        unlocked = password_grant(client, "zhang.san", PASSWORD)

    assert still_locked.status_code == 423
    assert still_locked.headers["Retry-After"] == "1"
    assert unlocked.status_code == 200
    assert unlocked.get_json()["access_token"]


def test_deactivated_user_cannot_log_in(
    client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    user = make_user(username="zhang.san", password=PASSWORD)
    client.patch(f"{API}/users/{user['id']}", json={"active": False}, headers=admin_headers)

    assert password_grant(client, "zhang.san", PASSWORD).status_code == 401


def test_token_signed_before_key_rotation_still_verifies_and_new_tokens_use_the_new_key(
    identity: Any, client: Any, admin_headers: dict[str, str], make_user: Callable[..., dict[str, Any]]
) -> None:
    make_user(username="zhang.san", password=PASSWORD)
    old_token = password_grant(client, "zhang.san", PASSWORD).get_json()["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    new_kid = identity.runtime.transaction(handlers.rotate_signing_key, config=identity.runtime.config)
    new_token = password_grant(client, "zhang.san", PASSWORD).get_json()["access_token"]

    assert new_kid != old_kid
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    published = {key["kid"] for key in client.get(f"{API}/jwks").get_json()["keys"]}
    assert {old_kid, new_kid} <= published
    assert verify_with_jwks(client, old_token)["sub"] == verify_with_jwks(client, new_token)["sub"]
    for token in (old_token, new_token):
        assert client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired(
    identity: Any, client: Any, admin_headers: dict[str, str]
) -> None:
    old_kid = jwt.get_unverified_header(admin_headers["Authorization"].split()[1])["kid"]
    new_kid = identity.runtime.transaction(handlers.rotate_signing_key, config=identity.runtime.config)

    with use_clock(FixedClock(datetime.now(UTC) + timedelta(minutes=30))):
        during = {key["kid"] for key in client.get(f"{API}/jwks").get_json()["keys"]}
    with use_clock(FixedClock(datetime.now(UTC) + timedelta(hours=1, minutes=6))):
        after = {key["kid"] for key in client.get(f"{API}/jwks").get_json()["keys"]}

    assert during == {old_kid, new_kid}
    assert after == {new_kid}


def test_admin_token_signed_by_a_foreign_key_is_refused_even_under_identitys_kid(
    client: Any, admin_headers: dict[str, str], admin_id: str
) -> None:
    identity_kid = jwt.get_unverified_header(admin_headers["Authorization"].split()[1])["kid"]
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": admin_id, "roles": ["admin"], "iss": "loanbridge-identity", "aud": "loanbridge"}
    claims.update(iat=now, exp=now + 600)

    for kid in ("unknown-kid", identity_kid):
        forged = jwt.encode(claims, foreign, algorithm="RS256", headers={"kid": kid})
        response = client.get(f"{API}/users", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, kid
        assert response.get_json()["code"] == "invalid_token"


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
def test_unsupported_grant_type_is_422(client: Any, grant_type: str) -> None:
    response = client.post(f"{API}/token", data={"grant_type": grant_type})

    assert response.status_code == 422
    assert "grant_type" in response.get_json()["details"]["fields"]
