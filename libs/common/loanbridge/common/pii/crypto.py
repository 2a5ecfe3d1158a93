"""Field encryption (AES-GCM under data keys wrapped by a key-encryption key) and keyed blind indexes.

A ciphertext reads ``v1.<data key id>.<base64(nonce | ciphertext | tag)>`` and is bound to its field name
(associated data), so a value copied into another column does not decrypt. Data keys live, wrapped, in the
service's ``data_keys`` table; the KEK (``LOANBRIDGE_PII_KEK``) and the blind-index key
(``LOANBRIDGE_BLIND_INDEX_KEY``) come from configuration and have no defaults.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event
from sqlalchemy.orm import Session

from loanbridge.common import clock
from loanbridge.common.config import ConfigError, Env
from loanbridge.common.tables import data_keys

FORMAT_VERSION = "v1"
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

    def __init__(self, kek: KeyEncryptionKey) -> None:
        self.kek = kek
        self._keys: dict[str, AESGCM] = {}
        self._active_id: str | None = None
        self._lock = threading.Lock()

    def encrypt(self, session: Session, field: str, plaintext: str) -> str:
        key_id = self._active_key_id(session)
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

    def _active_key_id(self, session: Session) -> str:
        if self._active_id is not None:
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
            cached = self._keys[key_id] = AESGCM(self.kek.unwrap(row.wrapped_key, key_id))
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


def keks_from_env(env: Env | None = None) -> tuple[KeyEncryptionKey, KeyEncryptionKey | None]:
    """The KEK in use (``LOANBRIDGE_PII_KEK``, no default) and, during a rotation, the one before it
    (``LOANBRIDGE_PII_KEK_PREVIOUS``), whose wrapped keys still open until ``rotate-keys`` has re-wrapped them."""
    env = env or Env()
    current = KeyEncryptionKey(decode_key("PII_KEK", env.require("PII_KEK")))
    previous_text = env.get("PII_KEK_PREVIOUS")
    previous = KeyEncryptionKey(decode_key("PII_KEK_PREVIOUS", previous_text)) if previous_text else None
    return current, previous


def field_cipher_from_env(env: Env | None = None) -> FieldCipher:
    """The field cipher under the configured KEK (``LOANBRIDGE_PII_KEK``, no default)."""
    env = env or Env()
    return FieldCipher(KeyEncryptionKey(decode_key("PII_KEK", env.require("PII_KEK"))))


def blind_index_from_env(env: Env | None = None) -> BlindIndex:
    """The blind index under the configured key (``LOANBRIDGE_BLIND_INDEX_KEY``, no default)."""
    env = env or Env()
    return BlindIndex(decode_key("BLIND_INDEX_KEY", env.require("BLIND_INDEX_KEY")))
