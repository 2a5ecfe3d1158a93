"""identity's tables and the queries its handlers use.

Staff contacts (mobile, DingTalk and WeCom ids, email) and signing keys' private halves are stored encrypted;
passwords and client secrets as argon2 hashes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common.tables import BigId, Timestamp

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("team_id", sa.String(36), nullable=True, index=True),
    sa.Column("region", sa.String(32), nullable=True),
    sa.Column("products", sa.Text, nullable=False),
    sa.Column("mobile_enc", sa.Text, nullable=True),
    sa.Column("dingtalk_user_id_enc", sa.Text, nullable=True),
    sa.Column("wecom_user_id_enc", sa.Text, nullable=True),
    sa.Column("email_enc", sa.Text, nullable=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False),
    sa.Column("locked_until", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("manager_id", sa.String(36), nullable=True, index=True),
    sa.Column("region", sa.String(32), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("partner_id", sa.String(36), nullable=True, unique=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("private_key_enc", sa.Text, nullable=False),
    sa.Column("public_jwk", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("retired_at", Timestamp, nullable=True),
)

login_audit = sa.Table(
    "login_audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False, index=True),
    sa.Column("grant_type", sa.String(32), nullable=False),
    sa.Column("principal", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("remote_addr", sa.String(64), nullable=True),
)


def dump_list(values: list[str]) -> str:
    return json.dumps(sorted(set(values)), ensure_ascii=False)


def load_list(text: str | None) -> list[str]:
    return list(json.loads(text)) if text else []


def user_by_id(session: Session, user_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(users).where(users.c.id == user_id)
    return session.execute(query.with_for_update() if for_update else query).first()


def user_by_username(session: Session, username: str, *, for_update: bool = False) -> Any:
    query = sa.select(users).where(users.c.username == username)
    return session.execute(query.with_for_update() if for_update else query).first()


def team_by_id(session: Session, team_id: str) -> Any:
    return session.execute(sa.select(teams).where(teams.c.id == team_id)).first()


def team_ids_managed_by(session: Session, user_id: str) -> list[str]:
    return list(session.execute(sa.select(teams.c.id).where(teams.c.manager_id == user_id)).scalars())


def client_by_id(session: Session, client_id: str) -> Any:
    return session.execute(sa.select(clients).where(clients.c.client_id == client_id)).first()


def active_signing_key(session: Session) -> Any:
    return session.execute(
        sa.select(signing_keys)
        .where(signing_keys.c.retired_at.is_(None))
        .order_by(signing_keys.c.created_at.desc())
        .limit(1)
    ).first()


def published_signing_keys(session: Session, *, retired_after: datetime) -> list[Any]:
    """Keys whose tokens may still be valid: the active ones and those retired within a token lifetime."""
    return list(
        session.execute(
            sa.select(signing_keys)
            .where(sa.or_(signing_keys.c.retired_at.is_(None), signing_keys.c.retired_at > retired_after))
            .order_by(signing_keys.c.created_at.desc())
        )
    )


def record_login(
    session: Session, *, at: datetime, grant_type: str, principal: str, outcome: str, remote_addr: str | None
) -> None:
    session.execute(
        login_audit.insert().values(
            at=at, grant_type=grant_type, principal=principal[:64], outcome=outcome, remote_addr=remote_addr
        )
    )
