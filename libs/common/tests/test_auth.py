"""Bearer tokens: RS256 only, issuer, audience and expiry checked, keys refreshed once for an unknown key id, and
``@requires`` answering 401/403 JSON bodies through a Flask app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask_smorest import Blueprint

from loanbridge.common import auth
from loanbridge.common.app import build_app
from loanbridge.common.auth import Principal, RemoteJwks, StaticKeys, TokenVerifier, current_principal, requires
from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.config import ConfigError
from loanbridge.common.errors import Unauthenticated, Unavailable
from loanbridge.common.runtime import Runtime
from loanbridge.common.testing.harness import AUDIENCE, ISSUER, TokenFactory, drain_outbox
from loanbridge.common.uow import UnitOfWork


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="module")
def other_tokens() -> TokenFactory:
    """A signer the services do not trust (or not yet: a freshly rotated key)."""
    return TokenFactory()


class RecordingKeys:
    """A key source that answers ``before`` until refreshed, then ``after``, and records every call."""

    def __init__(self, before: Callable[[], dict[str, Any]], after: Callable[[], dict[str, Any]] | None = None):
        self.before, self.after = before, after or before
        self.calls: list[bool] = []
        self.refreshed = False

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        self.calls.append(refresh)
        self.refreshed = self.refreshed or refresh
        return auth.keys_from_jwks((self.after if self.refreshed else self.before)())


def verifier_for(keys: Any) -> TokenVerifier:
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned_parts(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def code_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as raised:
        verifier.verify(token)
    assert raised.value.status == 401
    return raised.value.code


# --- TokenVerifier ------------------------------------------------------------------------------------------------


def test_valid_token_gives_the_callers_principal(tokens: TokenFactory) -> None:
    token = tokens.token(
        subject="user-1", roles=["manager", "sales"], team_id="t-1", managed_team_ids=["t-1", "t-2"], region="济南"
    )

    principal = verifier_for(StaticKeys(tokens.jwks)).verify(token)

    assert principal.subject == "user-1"
    assert principal.roles == {"manager", "sales"}
    assert principal.team_id == "t-1"
    assert principal.managed_team_ids == ("t-1", "t-2")
    assert principal.region == "济南"
    assert principal.partner_id is None
    assert principal.has_any("admin", "manager")
    assert not principal.has_any("admin")
    assert not principal.is_partner


def test_partner_token_names_the_partner(tokens: TokenFactory) -> None:
    principal = verifier_for(StaticKeys(tokens.jwks)).verify(tokens.token(roles=["partner"], partner_id="p-9"))

    assert principal.is_partner
    assert principal.partner_id == "p-9"


def test_expired_token_is_refused_as_expired(tokens: TokenFactory) -> None:
    assert code_of(verifier_for(StaticKeys(tokens.jwks)), tokens.token(roles=["sales"], ttl=-120)) == "token_expired"


def test_token_just_past_expiry_is_accepted_within_the_clock_leeway(tokens: TokenFactory) -> None:
    principal = verifier_for(StaticKeys(tokens.jwks)).verify(tokens.token(subject="u", roles=["sales"], ttl=-5))

    assert principal.subject == "u"


def test_token_expiry_follows_the_suites_clock(tokens: TokenFactory) -> None:
    """Identity and the test token factory stamp iat/exp from the injectable clock; the check uses it too."""
    verifier = verifier_for(StaticKeys(tokens.jwks))
    fixed = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    with use_clock(fixed):
        token = tokens.token(subject="u", roles=["sales"], ttl=600)
        assert verifier.verify(token).subject == "u"
        fixed.advance(timedelta(seconds=600 + 31))
        assert code_of(verifier, token) == "token_expired"


def test_a_verified_token_is_remembered_but_a_tampered_copy_of_it_is_still_refused(tokens: TokenFactory) -> None:
    lookups: list[bool] = []

    class CountingKeys(StaticKeys):
        def keys(self, *, refresh: bool = False) -> dict[str, Any]:
            lookups.append(refresh)
            return super().keys(refresh=refresh)

    verifier = verifier_for(CountingKeys(tokens.jwks))
    token = tokens.token(subject="u", roles=["sales"])
    assert verifier.verify(token).subject == "u"
    assert verifier.verify(token).subject == "u"
    assert len(lookups) == 1  # the second request did not check the signature again

    header, _payload, signature = token.split(".")
    forged = claims_of(token) | {"roles": ["admin"]}
    assert code_of(verifier, f"{header}.{b64(json.dumps(forged).encode())}.{signature}") == "invalid_token"


def test_token_issued_in_the_future_is_refused(tokens: TokenFactory) -> None:
    verifier = verifier_for(StaticKeys(tokens.jwks))
    fixed = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    with use_clock(fixed):
        token = tokens.token(roles=["sales"])
        fixed.advance(timedelta(minutes=-5))
        assert code_of(verifier, token) == "invalid_token"


@pytest.mark.parametrize(
    "claims",
    [{"aud": "another-suite"}, {"iss": "https://evil.example"}, {"exp": None}, {"sub": None}],
    ids=["wrong-audience", "wrong-issuer", "no-expiry", "no-subject"],
)
def test_token_with_wrong_or_missing_claims_is_refused(tokens: TokenFactory, claims: dict[str, Any]) -> None:
    assert code_of(verifier_for(StaticKeys(tokens.jwks)), tokens.token(roles=["admin"], **claims)) == "invalid_token"


def test_tampered_claims_fail_the_signature_check(tokens: TokenFactory) -> None:
    header, _payload, signature = tokens.token(subject="u", roles=["sales"]).split(".")
    elevated = {**claims_of(tokens.token(subject="u", roles=["sales"])), "roles": ["admin"]}
    forged = f"{header}.{b64(json.dumps(elevated).encode())}.{signature}"

    assert code_of(verifier_for(StaticKeys(tokens.jwks)), forged) == "invalid_token"


def test_tampered_signature_is_refused(tokens: TokenFactory) -> None:
    header, payload, signature = tokens.token(roles=["sales"]).split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]

    assert code_of(verifier_for(StaticKeys(tokens.jwks)), f"{header}.{payload}.{flipped}") == "invalid_token"


def test_unsigned_alg_none_token_is_refused(tokens: TokenFactory) -> None:
    claims = claims_of(tokens.token(roles=["admin"]))
    token = unsigned_parts({"alg": "none", "typ": "JWT", "kid": tokens.kid}, claims) + "."

    assert code_of(verifier_for(StaticKeys(tokens.jwks)), token) == "invalid_token"


def test_hs256_token_signed_with_the_public_key_is_refused(tokens: TokenFactory) -> None:
    """The classic key-confusion attack: HMAC over the token with the published public key as the secret."""
    public_pem = jwt.PyJWK(tokens.jwks()["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = unsigned_parts(
        {"alg": "HS256", "typ": "JWT", "kid": tokens.kid}, claims_of(tokens.token(roles=["admin"]))
    )
    signature = b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())

    assert code_of(verifier_for(StaticKeys(tokens.jwks)), f"{signing_input}.{signature}") == "invalid_token"


def test_token_without_a_key_id_is_refused(tokens: TokenFactory) -> None:
    token = jwt.encode(claims_of(tokens.token(roles=["sales"])), tokens._pem, algorithm="RS256")

    assert code_of(verifier_for(StaticKeys(tokens.jwks)), token) == "invalid_token"


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_refused_as_an_invalid_token(tokens: TokenFactory, token: str) -> None:
    assert code_of(verifier_for(StaticKeys(tokens.jwks)), token) == "invalid_token"


def test_unknown_key_id_refreshes_the_keys_once_then_refuses(tokens: TokenFactory, other_tokens: TokenFactory) -> None:
    keys = RecordingKeys(tokens.jwks)

    assert code_of(verifier_for(keys), other_tokens.token(roles=["sales"])) == "invalid_token"
    assert keys.calls == [False, True]


def test_token_signed_with_a_rotated_key_passes_after_one_refresh(
    tokens: TokenFactory, other_tokens: TokenFactory
) -> None:
    keys = RecordingKeys(tokens.jwks, after=lambda: {"keys": tokens.jwks()["keys"] + other_tokens.jwks()["keys"]})

    principal = verifier_for(keys).verify(other_tokens.token(subject="after-rotation", roles=["sales"]))

    assert principal.subject == "after-rotation"
    assert keys.calls == [False, True]


def test_known_key_id_does_not_refresh(tokens: TokenFactory) -> None:
    keys = RecordingKeys(tokens.jwks)

    verifier_for(keys).verify(tokens.token(roles=["sales"]))

    assert keys.calls == [False]


# --- RemoteJwks -----------------------------------------------------------------------------------------------------


class FakeJwksServer:
    """Stands in for ``requests.get`` of identity's JWKS endpoint."""

    def __init__(self, jwks: Callable[[], dict[str, Any]]) -> None:
        self.jwks = jwks
        self.fetches = 0
        self.down = False

    def get(self, url: str, timeout: float) -> Any:
        self.fetches += 1
        if self.down:
            raise requests.ConnectionError("identity is down")
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.jwks()).encode()
        return response


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def jwks_server(monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory) -> FakeJwksServer:
    server = FakeJwksServer(tokens.jwks)
    monkeypatch.setattr(auth.requests, "get", server.get)
    return server


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(auth, "time", fake)
    return fake


def test_remote_jwks_is_fetched_once_and_cached(jwks_server: FakeJwksServer, tokens: TokenFactory) -> None:
    verifier = verifier_for(RemoteJwks("http://identity/jwks", cache_seconds=300))

    for _ in range(5):
        verifier.verify(tokens.token(roles=["sales"]))

    assert jwks_server.fetches == 1


def test_remote_jwks_is_fetched_again_when_the_cache_expires(
    jwks_server: FakeJwksServer, monotonic: FakeMonotonic
) -> None:
    jwks = RemoteJwks("http://identity/jwks", cache_seconds=300)
    jwks.keys()

    monotonic.now += 301
    jwks.keys()

    assert jwks_server.fetches == 2


def test_unknown_key_id_refetches_at_most_every_few_seconds(
    jwks_server: FakeJwksServer, monotonic: FakeMonotonic, tokens: TokenFactory, other_tokens: TokenFactory
) -> None:
    verifier = verifier_for(RemoteJwks("http://identity/jwks"))
    verifier.verify(tokens.token(roles=["sales"]))
    stranger = other_tokens.token(roles=["sales"])

    code_of(verifier, stranger)
    assert jwks_server.fetches == 1

    monotonic.now += RemoteJwks.MIN_REFRESH_INTERVAL + 1
    jwks_server.jwks = lambda: {"keys": tokens.jwks()["keys"] + other_tokens.jwks()["keys"]}

    assert verifier.verify(stranger).roles == {"sales"}
    assert jwks_server.fetches == 2


def test_unreachable_jwks_without_cached_keys_is_a_503_to_retry_not_a_401(jwks_server: FakeJwksServer) -> None:
    # Found by the database-crash chaos run: partners got 401s while identity's database restarted.
    jwks_server.down = True

    with pytest.raises(Unavailable) as raised:
        RemoteJwks("http://identity/jwks").keys()

    assert raised.value.code == "jwks_unavailable"
    assert raised.value.status == 503


def test_unreachable_jwks_keeps_serving_the_cached_keys(
    jwks_server: FakeJwksServer, monotonic: FakeMonotonic, tokens: TokenFactory
) -> None:
    verifier = verifier_for(RemoteJwks("http://identity/jwks", cache_seconds=300))
    verifier.verify(tokens.token(roles=["sales"]))

    jwks_server.down = True
    monotonic.now += 301

    assert verifier.verify(tokens.token(subject="still", roles=["sales"])).subject == "still"


def test_runtime_without_a_jwks_url_cannot_verify_tokens(make_runtime: Callable[..., Runtime]) -> None:
    with pytest.raises(ConfigError, match="LOANBRIDGE_JWKS_URL"):
        _ = make_runtime("demo").verifier


# --- @requires through a Flask app ----------------------------------------------------------------------------------


def announce_lead(uow: UnitOfWork) -> dict[str, str | None]:
    envelope = uow.emit("intake.lead.created", subject="lead-1", data={"lead_id": "lead-1"})
    return {"actor": envelope.actor, "correlationid": envelope.correlationid}


def guarded_blueprint(runtime: Runtime) -> Blueprint:
    blp = Blueprint("guarded", __name__)

    @blp.get("/api/demo/v1/me")
    @requires()
    def me() -> dict[str, Any]:
        principal = current_principal()
        return {"subject": principal.subject, "roles": sorted(principal.roles)}

    @blp.get("/api/demo/v1/teams")
    @requires("admin", "manager")
    def teams() -> dict[str, Any]:
        return {"teams": []}

    @blp.post("/api/demo/v1/leads")
    @requires("sales", "partner")
    def create_lead() -> dict[str, Any]:
        return runtime.transaction(announce_lead)

    @blp.get("/internal/v1/contacts/customers/<customer_id>")
    @requires("service")
    def contact(customer_id: str) -> dict[str, Any]:
        return {"customer_id": customer_id}

    return blp


@pytest.fixture
def guarded(make_runtime: Callable[..., Runtime], tokens: TokenFactory) -> tuple[Runtime, Flask]:
    runtime = make_runtime("demo")
    runtime.use_key_source(StaticKeys(tokens.jwks))
    return runtime, build_app(runtime, blueprints=[guarded_blueprint(runtime)])


@pytest.fixture
def client(guarded: tuple[Runtime, Flask]) -> Any:
    return guarded[1].test_client()


def test_request_without_a_token_is_401_with_the_error_shape(client: Any) -> None:
    response = client.get("/api/demo/v1/me")

    assert response.status_code == 401
    assert response.get_json() == {"code": "unauthenticated", "message": "未登录或登录已失效", "details": {}}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer ", "Token abc", "bearer"])
def test_authorization_that_is_not_a_bearer_token_is_401(client: Any, header: str) -> None:
    response = client.get("/api/demo/v1/me", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthenticated"


def test_expired_token_is_401_saying_it_expired(client: Any, tokens: TokenFactory) -> None:
    response = client.get("/api/demo/v1/me", headers=tokens.header(roles=["sales"], ttl=-300))

    assert response.status_code == 401
    body = response.get_json()
    assert body["code"] == "token_expired"
    assert body["message"] == "登录已过期,请重新登录"
    assert body["details"] == {}


def test_token_of_an_untrusted_signer_is_401(client: Any, other_tokens: TokenFactory) -> None:
    response = client.get("/api/demo/v1/me", headers=other_tokens.header(roles=["admin"]))

    assert response.status_code == 401
    assert response.get_json()["code"] == "invalid_token"


def test_caller_without_the_required_role_is_403_with_the_error_shape(client: Any, tokens: TokenFactory) -> None:
    response = client.get("/api/demo/v1/teams", headers=tokens.header(roles=["sales"]))

    assert response.status_code == 403
    assert response.get_json() == {"code": "forbidden", "message": "没有权限执行此操作", "details": {}}


def test_caller_holding_any_of_the_roles_passes(client: Any, tokens: TokenFactory) -> None:
    response = client.get("/api/demo/v1/teams", headers=tokens.header(roles=["sales", "manager"]))

    assert response.status_code == 200


def test_any_authenticated_staff_member_passes_an_open_route(client: Any, tokens: TokenFactory) -> None:
    response = client.get("/api/demo/v1/me", headers=tokens.header(subject="user-5", roles=["ops"]))

    assert response.status_code == 200
    assert response.get_json() == {"subject": "user-5", "roles": ["ops"]}


def test_service_client_cannot_use_public_routes(client: Any, tokens: TokenFactory) -> None:
    response = client.get("/api/demo/v1/me", headers=tokens.header(roles=["service"]))

    assert response.status_code == 403


def test_internal_route_admits_service_clients_only(client: Any, tokens: TokenFactory) -> None:
    path = "/internal/v1/contacts/customers/c-1"

    assert client.get(path, headers=tokens.header(roles=["service"])).status_code == 200
    assert client.get(path, headers=tokens.header(roles=["admin"])).status_code == 403
    assert client.get(path).status_code == 401


def test_events_written_in_a_request_carry_its_request_id_and_caller(
    guarded: tuple[Runtime, Flask], client: Any, tokens: TokenFactory
) -> None:
    runtime, _app = guarded
    headers = {**tokens.header(subject="user-7", roles=["sales"]), "X-Request-ID": "req-42"}

    response = client.post("/api/demo/v1/leads", headers=headers)

    assert response.status_code == 200
    assert response.get_json() == {"actor": "user-7", "correlationid": "req-42"}
    [event] = drain_outbox(runtime)
    assert (event.actor, event.correlationid) == ("user-7", "req-42")


def test_requires_refuses_a_role_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="superuser"):
        requires("admin", "superuser")


def test_openapi_marks_guarded_routes_with_bearer_auth_and_their_roles(client: Any) -> None:
    operation = client.get("/api/demo/openapi.json").get_json()["paths"]["/api/demo/v1/teams"]["get"]

    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["x-roles"] == ["admin", "manager"]


def test_principal_reads_optional_claims_leniently() -> None:
    principal = Principal.from_claims({"sub": 42, "roles": None})

    assert principal.subject == "42"
    assert principal.roles == frozenset()
    assert principal.managed_team_ids == ()
