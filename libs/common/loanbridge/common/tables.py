"""Tables every service database has: outbox, inbox, event sequences, idempotency keys, the access audit and
the wrapped data keys of field encryption.

They are created by the common migrations (their own alembic version table) before a service's own migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# UTC instants to the microsecond: MySQL's DATETIME keeps whole seconds unless told otherwise.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("routing_key", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("published_at", Timestamp, nullable=True),
    sa.Index("ix_outbox_pending", "published_at", "id"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("applied_at", Timestamp, nullable=False),
)

event_sequences = sa.Table(
    "event_sequences",
    metadata,
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
)

access_audit = sa.Table(
    "access_audit",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("resource", sa.String(128), nullable=False),
    sa.Column("fields", sa.String(255), nullable=False, default=""),
    sa.Column("request_id", sa.String(64), nullable=True),
)

data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("wrapped_key", sa.String(255), nullable=False),
    sa.Column("kek_id", sa.String(32), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("retired_at", Timestamp, nullable=True),
)

# --- the embedded mode's delivery (no broker): cursors, delayed retries and dead letters as rows -------------------
dispatch_cursors = sa.Table(
    "dispatch_cursors",
    metadata,
    sa.Column("producer", sa.String(32), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

dispatch_retries = sa.Table(
    "dispatch_retries",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_yet", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp, nullable=False, index=True),
    sa.Column("last_error", sa.String(200), nullable=True),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, index=True),
    sa.Column("event_type", sa.String(120), nullable=False),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("error", sa.String(200), nullable=False),
    sa.Column("failed_at", Timestamp, nullable=False),
    sa.Column("replayed_at", Timestamp, nullable=True),
)
