"""A KEK rotation under a rolling restart: processes on the old and the new KEK run side by side, so each must
open what the other wraps. The new KEK is staged first (``LOANBRIDGE_PII_KEK_NEXT``: it opens, it wraps nothing),
then made current with the old one as ``LOANBRIDGE_PII_KEK_PREVIOUS`` (docs/intake.md, Key rotation)."""

from __future__ import annotations

import pytest

from loanbridge.common.config import ConfigError, Env
from loanbridge.common.db import Database
from loanbridge.common.pii.crypto import (
    DecryptionError,
    FieldCipher,
    create_data_key,
    keks_from_env,
    new_key_text,
)

OLD, NEW = new_key_text(), new_key_text()


def cipher(**variables: str) -> FieldCipher:
    return FieldCipher(*keks_from_env(Env({f"LOANBRIDGE_{name}": value for name, value in variables.items()})))


def key_wrapped_by(database: Database, process: FieldCipher) -> str:
    """A data key created by ``process`` (a new customer's key is made the same way: wrapped by the current KEK)."""
    with database.session() as session, session.begin():
        return create_data_key(session, process.kek)


def opens(database: Database, process: FieldCipher, key_id: str) -> bool:
    with database.session() as session:
        try:
            process._key(session, key_id)
        except DecryptionError:
            return False
        return True


def test_a_process_on_the_old_kek_alone_cannot_open_a_key_wrapped_by_one_already_on_the_new(
    database: Database,
) -> None:
    restarted = cipher(PII_KEK=NEW, PII_KEK_PREVIOUS=OLD)
    not_yet = cipher(PII_KEK=OLD)

    assert not opens(database, not_yet, key_wrapped_by(database, restarted))


def test_with_the_new_kek_staged_first_every_process_opens_what_any_other_wraps(database: Database) -> None:
    staged = cipher(PII_KEK=OLD, PII_KEK_NEXT=NEW)  # step 1: every process restarted like this
    switched = cipher(PII_KEK=NEW, PII_KEK_PREVIOUS=OLD)  # step 2, one process after another
    done = cipher(PII_KEK=NEW)  # after rotate-keys, the old KEK removed

    by_staged, by_switched = key_wrapped_by(database, staged), key_wrapped_by(database, switched)

    assert staged.kek.id == cipher(PII_KEK=OLD).kek.id, "a staged KEK wraps nothing"
    assert opens(database, staged, by_switched) and opens(database, switched, by_staged)
    assert opens(database, done, by_switched) and not opens(database, done, by_staged)


def test_a_previous_and_a_next_kek_at_once_are_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        cipher(PII_KEK=NEW, PII_KEK_PREVIOUS=OLD, PII_KEK_NEXT=new_key_text())

    assert "one rotation step at a time" in str(raised.value)
