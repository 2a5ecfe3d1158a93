"""Bearer tokens: RS256 JWTs issued by identity (or any configured OIDC issuer), verified against its JWKS.

Routes declare who may call them with ``@requires("admin", "manager")``; the verified claims are the request's
``Principal``. ``/internal/v1/`` routes use ``@requires("service")``: only service clients' tokens pass.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Protocol, TypeVar

import jwt
import requests
from flask import current_app, g, request
from flask_smorest import Blueprint

from loanbridge.common import clock, context
from loanbridge.common.errors import Forbidden, Unauthenticated, Unavailable

ROLES = ("admin", "manager", "sales", "risk_officer", "risk_director", "ops", "partner", "service")
ALGORITHM = "RS256"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who is calling, from the verified token's claims (ARCHITECTURE.md §4)."""

    subject: str
    roles: frozenset[str]
    team_id: str | None = None
    managed_team_ids: tuple[str, ...] = ()
    partner_id: str | None = None
    region: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_partner(self) -> bool:
        return "partner" in self.roles

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        return cls(
            subject=str(claims["sub"]),
            roles=frozenset(claims.get("roles") or ()),
            team_id=claims.get("team_id"),
            managed_team_ids=tuple(claims.get("managed_team_ids") or ()),
            partner_id=claims.get("partner_id"),
            region=claims.get("region"),
            claims=claims,
        )


class KeySource(Protocol):
    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        """Public keys by key id."""
        ...


class RemoteJwks:
    """Identity's JWKS over HTTP, cached; refreshed when a token names a key id not yet seen (rotation)."""

    MIN_REFRESH_INTERVAL = 5.0

    def __init__(self, url: str, *, cache_seconds: float = 300.0, timeout: float = 3.0) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        age = time.monotonic() - self._fetched_at
        stale = age > self.cache_seconds or not self._keys
        if stale or (refresh and age > self.MIN_REFRESH_INTERVAL):
            with self._lock:
                self._fetch()
        return self._keys

    def _fetch(self) -> None:
        try:
            response = requests.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            self._keys = keys_from_jwks(response.json())
            self._fetched_at = time.monotonic()
        except (requests.RequestException, ValueError) as exc:
            if not self._keys:
                # The token may be fine: the issuer is unreachable (identity down, or its database). A 401 would
                # tell the client to drop its credentials; a 503 tells it to retry.
                raise Unavailable("暂时无法校验登录凭证,请稍后重试", code="jwks_unavailable") from exc


class StaticKeys:
    """Keys from a callable (identity reads its own signing keys) or a fixed JWKS (tests)."""

    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load = load

    def keys(self, *, refresh: bool = False) -> dict[str, Any]:
        return keys_from_jwks(self._load())


def keys_from_jwks(jwks: dict[str, Any]) -> dict[str, Any]:
    return {entry["kid"]: jwt.PyJWK(entry).key for entry in jwks.get("keys", []) if entry.get("kid")}


class TokenVerifier:
    """Checks signature, algorithm, issuer, audience and expiry; answers the caller's Principal.

    A token verified once is remembered (by its exact text) until it expires: a partner's client sends the same
    token for an hour, and its signature need not be checked again on every request.
    """

    REMEMBERED = 2048

    def __init__(self, keys: KeySource, *, issuer: str, audience: str, leeway: float = 30.0) -> None:
        self.key_source = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        now = clock.now().timestamp()
        with self._lock:
            remembered = self._verified.get(token)
        if remembered is not None and now < remembered[0] + self.leeway:
            return remembered[1]
        principal = self._verify(token)
        with self._lock:
            self._verified[token] = (float(principal.claims["exp"]), principal)
            if len(self._verified) > self.REMEMBERED:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("登录凭证格式无效", code="invalid_token") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("登录凭证格式无效", code="invalid_token")
        key = self._key(header.get("kid"))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                # PyJWT would judge exp/iat/nbf by the wall clock; identity stamps them from the suite's clock.
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            _check_times(claims, now=clock.now().timestamp(), leeway=self.leeway)
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("登录已过期,请重新登录", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("登录凭证无效", code="invalid_token") from exc
        return Principal.from_claims(claims)

    def _key(self, kid: str | None) -> Any:
        if not kid:
            raise Unauthenticated("登录凭证格式无效", code="invalid_token")
        key = self.key_source.keys().get(kid) or self.key_source.keys(refresh=True).get(kid)
        if key is None:
            raise Unauthenticated("登录凭证无效", code="invalid_token")
        return key


def _check_times(claims: dict[str, Any], *, now: float, leeway: float) -> None:
    """Expiry, issue and not-before times against ``now`` (the injectable clock), with leeway for clock skew."""
    try:
        expires, issued = int(claims["exp"]), int(claims["iat"])
        not_before = int(claims.get("nbf", issued))
    except (TypeError, ValueError, OverflowError) as exc:
        raise jwt.DecodeError("exp, iat and nbf must be integers") from exc
    if expires <= now - leeway:
        raise jwt.ExpiredSignatureError("Signature has expired")
    if max(issued, not_before) > now + leeway:
        raise jwt.ImmatureSignatureError("The token is not yet valid")


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


def authenticate() -> Principal:
    """Verify the request's bearer token once per request."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        verifier: TokenVerifier = current_app.extensions["loanbridge"].verifier
        principal = verifier.verify(bearer_token())
        g.principal = principal
        context.set_actor(principal.subject)
    return principal


def current_principal() -> Principal:
    """The authenticated caller of the request in scope."""
    return authenticate()


def requires(*roles: str) -> Callable[[F], F]:
    """Let through callers holding any of ``roles`` (any authenticated caller when none are given)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            if roles and not principal.has_any(*roles):
                raise Forbidden()
            if "service" not in roles and principal.roles == {"service"}:
                raise Forbidden()
            return view(*args, **kwargs)

        documented = Blueprint.doc(security=[{"bearerAuth": []}])(guarded)
        documented._apidoc.setdefault("manual_doc", {})["x-roles"] = list(roles) or ["any"]
        return documented  # type: ignore[return-value]

    return decorate
