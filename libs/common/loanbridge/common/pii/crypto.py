"""Field encryption (AES-GCM under data keys wrapped by a key-encryption key) and keyed blind indexes.

A ciphertext reads ``v1.<data key id>.<base64(nonce | ciphertext | tag)>`` and is bound to its field name
(associated data), so a value copied into another column does not decrypt. Data keys live, wrapped, in the
service's ``data_keys`` table; the KEK (``LOANBRIDGE_PII_KEK``) and the blind-index key
(``LOANBRIDGE_BLIND_INDEX_KEY``) come from configuration and have no defaults; during a KEK rotation one more KEK
opens keys (``keks_from_env``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.config import ConfigError, Env
from loanbridge.common.tables import data_keys

if TYPE_CHECKING:
    from loanbridge.common.runtime import Runtime

FORMAT_VERSION = "v1"
# How long a process trusts the active data key it read before reading it again.
ACTIVE_KEY_TTL = 10.0
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext cannot be opened: wrong key, wrong field or tampered."""


def decode_key(name: str, raw: str) -> bytes:
    """A 256-bit key from base64 (standard or URL-safe) configuration text."""
    try:
        key = base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"LOANBRIDGE_{name} is not valid base64") from exc
    if len(key) != 32:
        raise ConfigError(f"LOANBRIDGE_{name} must encode 32 bytes, it encodes {len(key)}")
    return key


def new_key_text() -> str:
    """A fresh random 256-bit key as configuration text."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class KeyEncryptionKey:
    key: bytes

    @property
    def id(self) -> str:
        return hashlib.sha256(b"loanbridge-kek" + self.key).hexdigest()[:16]

    def wrap(self, data_key: bytes, data_key_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, data_key, data_key_id.encode())
        return base64.b64encode(nonce + sealed).decode()

    def unwrap(self, wrapped: str, data_key_id: str) -> bytes:
        raw = base64.b64decode(wrapped)
        try:
            return AESGCM(self.key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], data_key_id.encode())
        except InvalidTag as exc:
            raise DecryptionError("data key does not unwrap with the configured KEK") from exc


class BlindIndex:
    """Keyed HMAC-SHA256 over a normalised value: equal values match, the value itself is not stored."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def of(self, kind: str, normalised_value: str) -> str:
        """The index of a normalised value; ``kind`` separates kinds (a mobile never matches an ID)."""
        return hmac.new(self._key, f"{kind}:{normalised_value}".encode(), hashlib.sha256).hexdigest()


class FieldCipher:
    """Encrypts and decrypts field values with the service's data keys (cached unwrapped in memory)."""

    def __init__(self, kek: KeyEncryptionKey, previous: KeyEncryptionKey | None = None) -> None:
        self.kek = kek
        self.keks = {kek.id: kek, **({previous.id: previous} if previous else {})}
        self._keys: dict[str, AESGCM] = {}
        self._active_id: str | None = None
        self._active_read_at = 0.0
        self._lock = threading.Lock()

    def encrypt(self, session: Session, field: str, plaintext: str) -> str:
        key_id = self.active_key_id(session)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._key(session, key_id).encrypt(nonce, plaintext.encode(), field.encode())
        return f"{FORMAT_VERSION}.{key_id}.{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, session: Session, field: str, token: str) -> str:
        try:
            version, key_id, payload = token.split(".", 2)
            raw = base64.b64decode(payload)
        except (ValueError, binascii.Error) as exc:
            raise DecryptionError("not a field ciphertext") from exc
        if version != FORMAT_VERSION:
            raise DecryptionError(f"unknown ciphertext version {version}")
        try:
            return self._key(session, key_id).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], field.encode()).decode()
        except (InvalidTag, ValueError) as exc:  # ValueError: a payload too short to hold a nonce
            raise DecryptionError("ciphertext does not open for this field") from exc

    def active_key_id(self, session: Session) -> str:
        """The data key new values are sealed with (created on first use)."""
        # Re-read now and then: another process may have rotated the data key (``rotate-keys --data-keys``).
        if self._active_id is not None and time.monotonic() - self._active_read_at < ACTIVE_KEY_TTL:
            return self._active_id
        with self._lock:
            key_id = active_data_key_id(session) or create_data_key(session, self.kek)
        # Remember the key only once its row is committed: a key whose transaction rolled back is not stored,
        # and values encrypted under it later would never open again (after a restart, in another process).
        settled: list[bool] = []

        def committed(_session: Session) -> None:
            if not settled:
                settled.append(True)
                self._active_id = key_id
                self._active_read_at = time.monotonic()

        def rolled_back(_session: Session) -> None:
            settled.append(False)

        event.listen(session, "after_commit", committed)
        event.listen(session, "after_rollback", rolled_back)
        return key_id

    def _key(self, session: Session, key_id: str) -> AESGCM:
        cached = self._keys.get(key_id)
        if cached is None:
            row = session.execute(sa.select(data_keys).where(data_keys.c.id == key_id)).first()
            if row is None:
                raise DecryptionError("unknown data key")
            kek = self.keks.get(row.kek_id)
            if kek is None:
                raise DecryptionError(f"data key wrapped by unknown KEK {row.kek_id}")
            cached = self._keys[key_id] = AESGCM(kek.unwrap(row.wrapped_key, key_id))
        return cached

    def forget_active_key(self) -> None:
        """Pick the active data key again on next use (after a rotation)."""
        self._active_id = None


def active_data_key_id(session: Session) -> str | None:
    row = session.execute(
        sa.select(data_keys.c.id)
        .where(data_keys.c.retired_at.is_(None))
        .order_by(data_keys.c.created_at.desc(), data_keys.c.id)
        .limit(1)
    ).first()
    return row.id if row else None


def create_data_key(session: Session, kek: KeyEncryptionKey) -> str:
    """Create and store a new wrapped data key; it is used from the moment its transaction commits."""
    key_id = secrets.token_hex(8)
    session.execute(
        data_keys.insert().values(
            id=key_id,
            wrapped_key=kek.wrap(AESGCM.generate_key(bit_length=256), key_id),
            kek_id=kek.id,
            created_at=clock.now().replace(tzinfo=None),
        )
    )
    return key_id


def retire_active_data_keys(session: Session, cipher: FieldCipher) -> str:
    """Retire the data keys in use and create their successor; returns its id. Values sealed before keep
    opening (retired keys stay) until re-encrypted."""
    session.execute(
        data_keys.update().where(data_keys.c.retired_at.is_(None)).values(retired_at=clock.now().replace(tzinfo=None))
    )
    cipher.forget_active_key()
    return create_data_key(session, cipher.kek)


def data_key_of(token: str) -> str:
    """The id of the data key a field ciphertext was sealed with."""
    return token.split(".", 2)[1]


def rewrap_data_keys(session: Session, cipher: FieldCipher, *, batch: int = 500) -> int:
    """Re-wrap up to ``batch`` data keys still under another KEK with the current one; returns how many."""
    rows = session.execute(
        sa.select(data_keys.c.id, data_keys.c.wrapped_key, data_keys.c.kek_id)
        .where(data_keys.c.kek_id != cipher.kek.id)
        .limit(batch)
        .with_for_update()
    ).all()
    for key_id, wrapped, kek_id in rows:
        old = cipher.keks.get(kek_id)
        if old is None:
            raise DecryptionError(f"data key wrapped by unknown KEK {kek_id}")
        session.execute(
            data_keys.update()
            .where(data_keys.c.id == key_id)
            .values(wrapped_key=cipher.kek.wrap(old.unwrap(wrapped, key_id), key_id), kek_id=cipher.kek.id)
        )
    return len(rows)


# (table, its key column, [(encrypted column, field name)]): the values one service seals with its data keys.
EncryptedColumns = list[tuple[sa.Table, sa.Column, list[tuple[str, str]]]]


def reencrypt_columns(session: Session, cipher: FieldCipher, encrypted: EncryptedColumns) -> int:
    """Re-encrypt under the active data key every value sealed with another one; returns the rows changed."""
    active, moved = cipher.active_key_id(session), 0
    for table, key_column, fields in encrypted:
        for row in session.execute(sa.select(table)).all():
            changes = {
                column: cipher.encrypt(session, field, cipher.decrypt(session, field, value))
                for column, field in fields
                if (value := getattr(row, column)) and data_key_of(value) != active
            }
            if changes:
                session.execute(table.update().where(key_column == row._mapping[key_column.key]).values(**changes))
                moved += 1
    return moved


def replace_data_key(
    runtime: Runtime, cipher: FieldCipher, encrypted: EncryptedColumns, *, settle: float = ACTIVE_KEY_TTL + 1
) -> int:
    """``rotate-keys --data-keys`` for a service that seals values with data keys: retire the data key, re-encrypt
    every value under a retired one; a second sweep, once every process has re-read the active key (``settle``
    seconds), catches what they sealed meanwhile. Returns the rows re-encrypted."""
    runtime.transaction(lambda uow: retire_active_data_keys(uow.session, cipher))
    moved = runtime.transaction(lambda uow: reencrypt_columns(uow.session, cipher, encrypted))
    time.sleep(settle)
    return moved + runtime.transaction(lambda uow: reencrypt_columns(uow.session, cipher, encrypted))


def keks_from_env(env: Env | None = None) -> tuple[KeyEncryptionKey, KeyEncryptionKey | None]:
    """The KEK that wraps new keys (``LOANBRIDGE_PII_KEK``, no default) and, during a rotation, one more that
    opens keys but wraps none: the one before it (``LOANBRIDGE_PII_KEK_PREVIOUS``), whose wrapped keys still open
    until ``rotate-keys`` has re-wrapped them, or, in the first step, the one after it (``LOANBRIDGE_PII_KEK_NEXT``),
    so that a process not yet restarted onto the new KEK opens what the restarted ones wrap (docs/intake.md)."""
    env = env or Env()
    current = KeyEncryptionKey(decode_key("PII_KEK", env.require("PII_KEK")))
    previous_text, next_text = env.get("PII_KEK_PREVIOUS"), env.get("PII_KEK_NEXT")
    if previous_text and next_text:
        raise ConfigError(
            "LOANBRIDGE_PII_KEK_PREVIOUS and LOANBRIDGE_PII_KEK_NEXT are both set: one rotation step at a time"
        )
    name, text = ("PII_KEK_PREVIOUS", previous_text) if previous_text else ("PII_KEK_NEXT", next_text)
    other = KeyEncryptionKey(decode_key(name, text)) if text else None
    return current, other


def field_cipher_from_env(env: Env | None = None) -> FieldCipher:
    """The field cipher under the configured KEK (``LOANBRIDGE_PII_KEK``, no default)."""
    return FieldCipher(*keks_from_env(env))


def blind_index_from_env(env: Env | None = None) -> BlindIndex:
    """The blind index under the configured key (``LOANBRIDGE_BLIND_INDEX_KEY``, no default)."""
    env = env or Env()
    return BlindIndex(decode_key("BLIND_INDEX_KEY", env.require("BLIND_INDEX_KEY")))
