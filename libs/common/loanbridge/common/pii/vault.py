"""One data key per data subject (a customer): every personal value of that person is sealed with it, and the
key, wrapped by the key-encryption key, lives in its own table. Erasing a person deletes the key: whatever copy
of their ciphertexts remains (a replica, an old backup, a document in object storage) can no longer be opened
(crypto-shredding).

A sealed value reads ``s1.<base64(nonce | ciphertext | tag)>`` and is bound to the subject and the field name
(associated data), so it opens only where it was written.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from loanbridge.common.pii.crypto import NONCE_BYTES, DecryptionError, KeyEncryptionKey

FORMAT = "s1"


@dataclass(frozen=True)
class SubjectKey:
    """An unwrapped key of one subject, good for sealing and opening that subject's values."""

    subject_id: str
    key: bytes

    def seal(self, field: str, plaintext: str) -> str:
        return f"{FORMAT}.{base64.b64encode(self.seal_bytes(field, plaintext.encode())).decode()}"

    def open(self, field: str, token: str) -> str:
        version, _, payload = token.partition(".")
        if version != FORMAT:
            raise DecryptionError("not a subject-sealed value")
        try:
            raw = base64.b64decode(payload, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise DecryptionError("not a subject-sealed value") from exc
        return self.open_bytes(field, raw).decode()

    def seal_bytes(self, purpose: str, data: bytes) -> bytes:
        """Seal bytes (a document) for one purpose (its id), under this subject's key."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self.key).encrypt(nonce, data, self._bound(purpose))

    def open_bytes(self, purpose: str, blob: bytes) -> bytes:
        try:
            return AESGCM(self.key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], self._bound(purpose))
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("value does not open for this subject and field") from exc

    def _bound(self, purpose: str) -> bytes:
        return f"{self.subject_id}:{purpose}".encode()


class SubjectVault:
    """Subject keys kept wrapped in ``table`` (columns: the subject id column, wrapped_key, kek_id, created_at).

    ``previous`` is the KEK being rotated away from: keys it wrapped still open until ``rewrap`` has moved them.
    """

    def __init__(
        self, table: sa.Table, subject_column: str, kek: KeyEncryptionKey, previous: KeyEncryptionKey | None = None
    ) -> None:
        self.table = table
        self.subject = table.c[subject_column]
        self.kek = kek
        self.keks = {kek.id: kek, **({previous.id: previous} if previous else {})}

    def create(self, session: Session, subject_id: str, *, now: datetime) -> SubjectKey:
        """A fresh key for a new subject, stored wrapped in the caller's transaction."""
        key = AESGCM.generate_key(bit_length=256)
        session.execute(
            self.table.insert(),
            {
                self.subject.key: subject_id,
                "wrapped_key": self.kek.wrap(key, subject_id),
                "kek_id": self.kek.id,
                "created_at": now.replace(tzinfo=None),
            },
        )
        return SubjectKey(subject_id, key)

    def key(self, session: Session, subject_id: str) -> SubjectKey | None:
        """The subject's key to open values, or None once the subject was erased."""
        return self._key(session, subject_id, sa.select(self.table.c.wrapped_key, self.table.c.kek_id))

    def key_for_sealing(self, session: Session, subject_id: str) -> SubjectKey | None:
        """The subject's key to seal new values with: held (shared lock) until the transaction ends, so a
        re-keying of this subject cannot commit in between and leave a value under the retired key."""
        query = sa.select(self.table.c.wrapped_key, self.table.c.kek_id).with_for_update(read=True)
        return self._key(session, subject_id, query)

    def rekey(self, session: Session, subject_id: str, *, now: datetime) -> tuple[SubjectKey, SubjectKey] | None:
        """Lock the subject's key, create its successor and store it; returns (old, new), or None if erased.
        The caller re-seals the subject's values in the same transaction."""
        old = self._key(session, subject_id, sa.select(self.table.c.wrapped_key, self.table.c.kek_id).with_for_update())
        if old is None:
            return None
        key = AESGCM.generate_key(bit_length=256)
        session.execute(
            self.table.update()
            .where(self.subject == subject_id)
            .values(wrapped_key=self.kek.wrap(key, subject_id), kek_id=self.kek.id, created_at=now.replace(tzinfo=None))
        )
        return old, SubjectKey(subject_id, key)

    def _key(self, session: Session, subject_id: str, query: sa.Select) -> SubjectKey | None:
        row = session.execute(query.where(self.subject == subject_id)).first()
        if row is None:
            return None
        kek = self.keks.get(row.kek_id)
        if kek is None:
            raise DecryptionError(f"subject key wrapped by unknown KEK {row.kek_id}")
        return SubjectKey(subject_id, kek.unwrap(row.wrapped_key, subject_id))

    def shred(self, session: Session, subject_id: str) -> None:
        """Delete the subject's key: every value sealed with it becomes unreadable."""
        session.execute(self.table.delete().where(self.subject == subject_id))

    def rewrap(self, session: Session, *, batch: int = 500) -> int:
        """Re-wrap up to ``batch`` keys still under another KEK with the current one; returns how many."""
        rows = session.execute(
            sa.select(self.subject, self.table.c.wrapped_key, self.table.c.kek_id)
            .where(self.table.c.kek_id != self.kek.id)
            .limit(batch)
            .with_for_update()
        ).all()
        for subject_id, wrapped, kek_id in rows:
            old = self.keks.get(kek_id)
            if old is None:
                raise DecryptionError(f"subject key wrapped by unknown KEK {kek_id}")
            key = old.unwrap(wrapped, subject_id)
            session.execute(
                self.table.update()
                .where(self.subject == subject_id)
                .values(wrapped_key=self.kek.wrap(key, subject_id), kek_id=self.kek.id)
            )
        return len(rows)
