"""RS256 signing keys: generated here, private halves stored encrypted, public halves served as the JWKS.

Rotation retires the active key and creates a new one; a retired key stays in the JWKS for one token lifetime,
so tokens it signed stay valid until they expire.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from loanbridge.common.pii.crypto import FieldCipher
from loanbridge.identity import orm

PRIVATE_KEY_FIELD = "signing_keys.private_key"


def create_signing_key(session: Session, cipher: FieldCipher, *, now: datetime) -> str:
    """Generate an RSA key pair, store it, and return its key id."""
    kid = secrets.token_hex(8)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    session.execute(
        orm.signing_keys.insert().values(
            kid=kid,
            private_key_enc=cipher.encrypt(session, PRIVATE_KEY_FIELD, pem),
            public_jwk=json.dumps(public_jwk),
            created_at=now,
        )
    )
    return kid


def sign(session: Session, cipher: FieldCipher, claims: dict[str, Any], *, now: datetime) -> str:
    """Sign claims with the active key, creating the first key on first use."""
    row = orm.active_signing_key(session)
    if row is None:
        create_signing_key(session, cipher, now=now)
        row = orm.active_signing_key(session)
    private_pem = cipher.decrypt(session, PRIVATE_KEY_FIELD, row.private_key_enc)
    return jwt.encode(claims, private_pem, algorithm="RS256", headers={"kid": row.kid})


def rotate(session: Session, cipher: FieldCipher, *, now: datetime) -> str:
    """Retire every active key and create a new one."""
    session.execute(orm.signing_keys.update().where(orm.signing_keys.c.retired_at.is_(None)).values(retired_at=now))
    return create_signing_key(session, cipher, now=now)


def jwks(session: Session, *, now: datetime, token_ttl: timedelta) -> dict[str, Any]:
    """The public keys that may have signed a token still valid now."""
    rows = orm.published_signing_keys(session, retired_after=now - token_ttl - timedelta(minutes=5))
    return {"keys": [json.loads(row.public_jwk) for row in rows]}
