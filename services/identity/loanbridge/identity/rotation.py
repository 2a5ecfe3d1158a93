"""Key rotation for identity (``loanbridge rotate-keys``): its data keys (staff contacts, signing keys' private
halves) re-wrapped under the current KEK and, with ``--data-keys``, replaced and everything re-encrypted."""

from __future__ import annotations

from datetime import datetime

from loanbridge.common.pii.crypto import replace_data_key, rewrap_data_keys
from loanbridge.common.runtime import Runtime
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


def reencrypt(runtime: Runtime, *, before: datetime | None = None) -> int:
    """``loanbridge rotate-keys --data-keys``: a new data key, and every staff contact and signing key re-encrypted
    under it (``before`` aside: all of them); returns how many rows."""
    config: IdentityConfig = runtime.config
    return replace_data_key(runtime, config.cipher, ENCRYPTED)
