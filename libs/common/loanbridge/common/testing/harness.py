"""Component-test harness: a service on its own SQLite database, tokens signed by a test key, and events moved
from one service's outbox to another's handlers without a broker.

    tokens = TokenFactory()
    intake = service_runtime("intake", tmp_path, tokens=tokens)
    client = intake.app.test_client()
    client.post("/api/intake/v1/leads", json=..., headers=tokens.header(roles=["sales"]))
    deliver(drain_outbox(intake.runtime), reporting.runtime)
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from loanbridge.common import clock
from loanbridge.common import service as services
from loanbridge.common.auth import StaticKeys
from loanbridge.common.db import Database, migrate_engine
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.events.inbox import Outcome, apply_event
from loanbridge.common.pii.crypto import new_key_text
from loanbridge.common.runtime import Runtime
from loanbridge.common.tables import outbox
from loanbridge.common.uow import naive_utc

ISSUER = "loanbridge-identity"
AUDIENCE = "loanbridge"


class TokenFactory:
    """Signs tokens like identity does, with a key of its own; services under test trust its JWKS."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex[:16]
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._pem = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, *, subject: str | None = None, roles: list[str], ttl: int = 600, **claims: Any) -> str:
        now = int(clock.now().timestamp())
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject or str(uuid.uuid4()),
            "iat": now,
            "exp": now + ttl,
            "roles": roles,
            **claims,
        }
        return jwt.encode(body, self._pem, algorithm="RS256", headers={"kid": self.kid})

    def header(self, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**kwargs)}"}


@dataclass
class ServiceUnderTest:
    runtime: Runtime
    app: Flask

    def client(self) -> Any:
        return self.app.test_client()


def environment_for_tests(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Settings for services under test: SQLite files in ``tmp_path``, fresh keys, short retry delays."""
    return {
        "LOANBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path}/{{service}}.db",
        "LOANBRIDGE_PII_KEK": new_key_text(),
        "LOANBRIDGE_BLIND_INDEX_KEY": new_key_text(),
        "LOANBRIDGE_EVENTS_RETRY_DELAYS": "0.01,0.02",
        "LOANBRIDGE_VAR_DIR": str(tmp_path / "var"),
        **overrides,
    }


def migrate(runtime: Runtime) -> None:
    """Create the service's tables (shared ones first) in its database."""
    migrate_engine(runtime.database.engine, runtime.spec.migrations)


def service_runtime(name: str, environ: dict[str, str], *, tokens: TokenFactory | None = None) -> ServiceUnderTest:
    """A migrated service with its app; tokens from ``tokens`` are accepted."""
    spec = services.get(name)
    runtime = Runtime(spec, environ=environ)
    migrate(runtime)
    app = spec.create_app(runtime)
    if tokens is not None and name != "identity":
        runtime.use_key_source(StaticKeys(tokens.jwks))
    app.testing = True
    return ServiceUnderTest(runtime=runtime, app=app)


def drain_outbox(runtime: Runtime) -> list[Envelope]:
    """The service's unpublished events in order, marked published (as a relay would after the broker's ack)."""
    database: Database = runtime.database
    with database.session() as session, session.begin():
        rows = session.execute(
            sa.select(outbox.c.id, outbox.c.envelope).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id)
        ).all()
        if rows:
            session.execute(
                outbox.update()
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=naive_utc(clock.now()))
            )
    return [Envelope.from_json(row.envelope) for row in rows]


def deliver(events: list[Envelope], consumer: Runtime) -> list[Outcome]:
    """Apply events to a consumer the way its queue would (only those it subscribes to)."""
    return [apply_event(consumer, event) for event in events if event.routing_key in consumer.spec.subscriptions]
