"""Key rotation for identity (``loanbridge rotate-keys``): its data keys (staff contacts, signing keys' private
halves) re-wrapped under the current KEK and, with ``--data-keys``, replaced and everything re-encrypted."""

from __future__ import annotations

import time
from datetime import datetime

import sqlalchemy as sa

from loanbridge.common.pii.crypto import ACTIVE_KEY_TTL, data_key_of, retire_active_data_keys, rewrap_data_keys
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork
from loanbridge.identity import orm
from loanbridge.identity.config import IdentityConfig
from loanbridge.identity.handlers import CONTACT_FIELDS
from loanbridge.identity.keys import PRIVATE_KEY_FIELD

ENCRYPTED = [
    (orm.users, orm.users.c.id, [(f"{name}_enc", f"users.{name}") for name in CONTACT_FIELDS]),
    (orm.signing_keys, orm.signing_keys.c.kid, [("private_key_enc", PRIVATE_KEY_FIELD)]),
]


def rewrap_keys(runtime: Runtime) -> int:
    config: IdentityConfig = runtime.config
    total = 0
    while moved := runtime.transaction(lambda uow: rewrap_data_keys(uow.session, config.cipher)):
        total += moved
    return total


def reencrypt(runtime: Runtime, *, before: datetime) -> int:
    """Retire the data key, then re-encrypt every value under a retired one; a second sweep after other
    processes have picked up the new key catches what they wrote meanwhile."""
    config: IdentityConfig = runtime.config
    runtime.transaction(lambda uow: retire_active_data_keys(uow.session, config.cipher))
    moved = runtime.transaction(_reencrypt_all, config=config)
    time.sleep(ACTIVE_KEY_TTL + 1)  # until every process has re-read the active data key
    return moved + runtime.transaction(_reencrypt_all, config=config)


def _reencrypt_all(uow: UnitOfWork, *, config: IdentityConfig) -> int:
    cipher, session, moved = config.cipher, uow.session, 0
    active = cipher.active_key_id(session)
    for table, key_column, fields in ENCRYPTED:
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
