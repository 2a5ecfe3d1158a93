"""identity's use cases: one function per command, each run in a unit of work by its caller."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from loanbridge.common import clock
from loanbridge.common.errors import Conflict, InvalidInput, Locked, NotFound, Unauthenticated
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.identity import keys, orm
from loanbridge.identity.config import IdentityConfig
from loanbridge.identity.domain.login import LockoutPolicy
from loanbridge.identity.domain.staff import invalid_staff_roles
from loanbridge.identity.domain.tokens import client_claims, staff_claims

CONTACT_FIELDS = ("mobile", "dingtalk_user_id", "wecom_user_id", "email")


def _now() -> datetime:
    return naive_utc(clock.now())


def _contact_column(name: str) -> str:
    return f"{name}_enc"


def _encrypt_contacts(uow: UnitOfWork, config: IdentityConfig, contacts: dict[str, str | None]) -> dict[str, Any]:
    return {
        _contact_column(name): config.cipher.encrypt(uow.session, f"users.{name}", value) if value else None
        for name, value in contacts.items()
    }


# --- teams --------------------------------------------------------------------------------------------------
def team_event_data(row: Any) -> dict[str, Any]:
    return {"team_id": row.id, "name": row.name, "manager_id": row.manager_id, "region": row.region}


def create_team(uow: UnitOfWork, *, name: str, manager_id: str | None, region: str | None) -> dict[str, Any]:
    """Create a team; its manager must be an existing staff member."""
    session = uow.session
    if session.execute(sa.select(orm.teams.c.id).where(orm.teams.c.name == name)).first():
        raise Conflict("团队名称已存在", code="team_name_taken")
    if manager_id and orm.user_by_id(session, manager_id) is None:
        raise InvalidInput.for_field("manager_id", "负责人不存在")
    team_id, now = str(uuid.uuid4()), _now()
    session.execute(
        orm.teams.insert().values(
            id=team_id, name=name, manager_id=manager_id, region=region, created_at=now, updated_at=now
        )
    )
    row = orm.team_by_id(session, team_id)
    uow.emit("identity.team.created", subject=team_id, data=team_event_data(row))
    return dict(row._mapping)


def update_team(uow: UnitOfWork, *, team_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Rename a team, change its manager or region."""
    session = uow.session
    if orm.team_by_id(session, team_id) is None:
        raise NotFound("团队不存在")
    if changes.get("manager_id") and orm.user_by_id(session, changes["manager_id"]) is None:
        raise InvalidInput.for_field("manager_id", "负责人不存在")
    session.execute(orm.teams.update().where(orm.teams.c.id == team_id).values(**changes, updated_at=_now()))
    row = orm.team_by_id(session, team_id)
    uow.emit("identity.team.updated", subject=team_id, data=team_event_data(row))
    return dict(row._mapping)


# --- staff --------------------------------------------------------------------------------------------------
def user_event_data(row: Any) -> dict[str, Any]:
    return {
        "user_id": row.id,
        "display_name": row.display_name,
        "roles": orm.load_list(row.roles),
        "team_id": row.team_id,
        "region": row.region,
        "products": orm.load_list(row.products),
        "active": bool(row.active),
    }


def _check_staff_fields(uow: UnitOfWork, fields: dict[str, Any]) -> None:
    if "roles" in fields:
        bad = invalid_staff_roles(fields["roles"])
        if bad or not fields["roles"]:
            raise InvalidInput.for_field("roles", "角色无效或为空")
    if fields.get("team_id") and orm.team_by_id(uow.session, fields["team_id"]) is None:
        raise InvalidInput.for_field("team_id", "团队不存在")


def create_user(
    uow: UnitOfWork,
    *,
    config: IdentityConfig,
    username: str,
    password: str,
    display_name: str,
    roles: list[str],
    team_id: str | None = None,
    region: str | None = None,
    products: list[str] | None = None,
    **contacts: str | None,
) -> dict[str, Any]:
    """Create a staff account."""
    session = uow.session
    _check_staff_fields(uow, {"roles": roles, "team_id": team_id})
    if orm.user_by_username(session, username) is not None:
        raise Conflict("用户名已存在", code="username_taken")
    user_id, now = str(uuid.uuid4()), _now()
    session.execute(
        orm.users.insert().values(
            id=user_id,
            username=username,
            password_hash=config.hasher.hash(password),
            display_name=display_name,
            roles=orm.dump_list(roles),
            team_id=team_id,
            region=region,
            products=orm.dump_list(products or []),
            active=True,
            failed_logins=0,
            created_at=now,
            updated_at=now,
            **_encrypt_contacts(uow, config, {name: contacts.get(name) for name in CONTACT_FIELDS}),
        )
    )
    row = orm.user_by_id(session, user_id)
    uow.emit("identity.user.created", subject=user_id, data=user_event_data(row))
    return public_user(row)


def update_user(uow: UnitOfWork, *, config: IdentityConfig, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a staff account; deactivating it emits ``identity.user.deactivated``."""
    session = uow.session
    before = orm.user_by_id(session, user_id, for_update=True)
    if before is None:
        raise NotFound("用户不存在")
    _check_staff_fields(uow, changes)
    values: dict[str, Any] = {"updated_at": _now()}
    for name in ("display_name", "team_id", "region", "active"):
        if name in changes:
            values[name] = changes[name]
    for name in ("roles", "products"):
        if name in changes:
            values[name] = orm.dump_list(changes[name])
    if "password" in changes:
        values.update(password_hash=config.hasher.hash(changes["password"]), failed_logins=0, locked_until=None)
    contacts = {name: changes[name] for name in CONTACT_FIELDS if name in changes}
    values.update(_encrypt_contacts(uow, config, contacts))
    session.execute(orm.users.update().where(orm.users.c.id == user_id).values(**values))
    row = orm.user_by_id(session, user_id)
    deactivated = before.active and not row.active
    event_type = "identity.user.deactivated" if deactivated else "identity.user.updated"
    uow.emit(event_type, subject=user_id, data=user_event_data(row))
    return public_user(row)


def public_user(row: Any) -> dict[str, Any]:
    """A staff account as the API shows it: no hash, no contacts."""
    return {
        "id": row.id,
        "username": row.username,
        "display_name": row.display_name,
        "roles": orm.load_list(row.roles),
        "team_id": row.team_id,
        "region": row.region,
        "products": orm.load_list(row.products),
        "active": bool(row.active),
        "created_at": clock.as_utc(row.created_at),
    }


def ensure_admin(uow: UnitOfWork, *, config: IdentityConfig, username: str, password: str) -> str:
    """Create the admin account, or reset its password and make sure it is an active admin (idempotent)."""
    row = orm.user_by_username(uow.session, username, for_update=True)
    if row is None:
        return create_user(
            uow, config=config, username=username, password=password, display_name="管理员", roles=["admin"]
        )["id"]
    roles = sorted({*orm.load_list(row.roles), "admin"})
    update_user(uow, config=config, user_id=row.id, changes={"roles": roles, "active": True, "password": password})
    return row.id


def staff_contacts(uow: UnitOfWork, *, config: IdentityConfig, user_id: str, caller: str) -> dict[str, Any]:
    """A staff member's contacts in clear, for notify at send time; every call is audited."""
    row = orm.user_by_id(uow.session, user_id)
    if row is None:
        raise NotFound("用户不存在")
    contacts = {
        name: config.cipher.decrypt(uow.session, f"users.{name}", getattr(row, _contact_column(name)))
        if getattr(row, _contact_column(name))
        else None
        for name in CONTACT_FIELDS
    }
    team = orm.team_by_id(uow.session, row.team_id) if row.team_id else None
    uow.audit(actor=caller, action="read_staff_contacts", resource=f"user:{user_id}", fields=list(CONTACT_FIELDS))
    return {"user_id": row.id, "manager_id": team.manager_id if team else None, **contacts}


# --- clients ------------------------------------------------------------------------------------------------
def _create_client(
    uow: UnitOfWork, *, config: IdentityConfig, kind: str, name: str, partner_id: str | None
) -> dict[str, Any]:
    client_id = f"{kind[0]}_{secrets.token_hex(10)}"
    client_secret = secrets.token_urlsafe(32)
    uow.session.execute(
        orm.clients.insert().values(
            client_id=client_id,
            secret_hash=config.hasher.hash(client_secret),
            kind=kind,
            name=name,
            partner_id=partner_id,
            active=True,
            created_at=_now(),
        )
    )
    return {"client_id": client_id, "client_secret": client_secret, "name": name, "kind": kind}


def create_partner(uow: UnitOfWork, *, config: IdentityConfig, name: str) -> dict[str, Any]:
    """Register a partner and its API client; the secret is shown once, only its hash is kept."""
    partner_id = str(uuid.uuid4())
    return {
        "partner_id": partner_id,
        **_create_client(uow, config=config, kind="partner", name=name, partner_id=partner_id),
    }


def create_service_client(uow: UnitOfWork, *, config: IdentityConfig, name: str) -> dict[str, Any]:
    """Register a service client (role ``service``) for ``/internal/v1/`` calls between services."""
    return _create_client(uow, config=config, kind="service", name=name, partner_id=None)


# --- tokens -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenGrant:
    """The outcome of a token request: a token, or the refusal to raise once the audit is committed."""

    access_token: str | None = None
    expires_in: int = 0
    refusal: Exception | None = None


@cache
def _unknown_account_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def _verify_secret(config: IdentityConfig, stored_hash: str | None, secret: str) -> bool:
    # An unknown account is checked against a throw-away hash so that its answer takes as long as a real one.
    try:
        return config.hasher.verify(stored_hash or _unknown_account_hash(config.hasher), secret) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


def password_grant(
    uow: UnitOfWork,
    *,
    config: IdentityConfig,
    issuer: str,
    audience: str,
    username: str,
    password: str,
    remote_addr: str | None,
) -> TokenGrant:
    """OAuth2 password grant for staff, with lock-out after repeated failures."""
    session, now = uow.session, _now()
    policy = LockoutPolicy(config.lockout_threshold, timedelta(seconds=config.lockout_seconds))
    row = orm.user_by_username(session, username, for_update=True)

    def refuse(outcome: str, error: Exception) -> TokenGrant:
        orm.record_login(
            session,
            at=now,
            grant_type="password",
            principal=username,
            outcome=outcome,
            remote_addr=remote_addr,
        )
        return TokenGrant(refusal=error)

    if row is not None and policy.is_locked(row.locked_until, now):
        seconds = policy.seconds_left(row.locked_until, now)
        return refuse("locked", Locked("登录失败次数过多,账号已临时锁定", code="account_locked", retry_after=seconds))
    if not _verify_secret(config, row.password_hash if row else None, password) or not row.active:
        if row is not None:
            failed, locked_until = policy.after_failure(row.failed_logins, now)
            session.execute(
                orm.users.update()
                .where(orm.users.c.id == row.id)
                .values(failed_logins=failed, locked_until=locked_until)
            )
        return refuse("bad_credentials", Unauthenticated("用户名或密码错误", code="invalid_credentials"))
    session.execute(orm.users.update().where(orm.users.c.id == row.id).values(failed_logins=0, locked_until=None))
    orm.record_login(
        session, at=now, grant_type="password", principal=username, outcome="success", remote_addr=remote_addr
    )
    claims = staff_claims(
        user_id=row.id,
        display_name=row.display_name,
        roles=orm.load_list(row.roles),
        team_id=row.team_id,
        managed_team_ids=orm.team_ids_managed_by(session, row.id),
        region=row.region,
        issuer=issuer,
        audience=audience,
        now=clock.now(),
        ttl=timedelta(seconds=config.token_ttl_seconds),
    )
    return TokenGrant(
        access_token=keys.sign(session, config.cipher, claims, now=now), expires_in=config.token_ttl_seconds
    )


def client_credentials_grant(
    uow: UnitOfWork,
    *,
    config: IdentityConfig,
    issuer: str,
    audience: str,
    client_id: str,
    client_secret: str,
    remote_addr: str | None,
) -> TokenGrant:
    """OAuth2 client-credentials grant for partners and services."""
    session, now = uow.session, _now()
    row = orm.client_by_id(session, client_id)
    ok = _verify_secret(config, row.secret_hash if row else None, client_secret) and row.active
    orm.record_login(
        session,
        at=now,
        grant_type="client_credentials",
        principal=client_id,
        outcome="success" if ok else "bad_credentials",
        remote_addr=remote_addr,
    )
    if not ok:
        return TokenGrant(refusal=Unauthenticated("客户端凭证无效", code="invalid_client"))
    claims = client_claims(
        client_id=row.client_id,
        kind=row.kind,
        partner_id=row.partner_id,
        issuer=issuer,
        audience=audience,
        now=clock.now(),
        ttl=timedelta(seconds=config.token_ttl_seconds),
    )
    return TokenGrant(
        access_token=keys.sign(session, config.cipher, claims, now=now), expires_in=config.token_ttl_seconds
    )


def current_jwks(uow: UnitOfWork, *, config: IdentityConfig) -> dict[str, Any]:
    """The JWKS: public keys of tokens that may still be valid."""
    return keys.jwks(uow.session, now=_now(), token_ttl=timedelta(seconds=config.token_ttl_seconds))


def rotate_signing_key(uow: UnitOfWork, *, config: IdentityConfig) -> str:
    """Start signing with a new key; tokens signed with the old one stay valid until they expire."""
    return keys.rotate(uow.session, config.cipher, now=_now())


# --- resync -------------------------------------------------------------------------------------------------
def emit_snapshots(uow: UnitOfWork) -> int:
    """Re-emit every team and user as ``*.updated`` events, for consumers that arrived late."""
    count = 0
    for row in uow.session.execute(sa.select(orm.teams).order_by(orm.teams.c.created_at)):
        uow.emit("identity.team.updated", subject=row.id, data=team_event_data(row))
        count += 1
    for row in uow.session.execute(sa.select(orm.users).order_by(orm.users.c.created_at)):
        uow.emit("identity.user.updated", subject=row.id, data=user_event_data(row))
        count += 1
    return count
