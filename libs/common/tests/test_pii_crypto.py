"""Field encryption under wrapped data keys, bound to the field name, and keyed blind indexes."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from loanbridge.common import clock
from loanbridge.common.db import Database
from loanbridge.common.pii.crypto import (
    NONCE_BYTES,
    BlindIndex,
    DecryptionError,
    FieldCipher,
    KeyEncryptionKey,
    create_data_key,
)
from loanbridge.common.tables import data_keys

RANDOM = random.Random(20261128)
KEK = KeyEncryptionKey(RANDOM.randbytes(32))
OTHER_KEK = KeyEncryptionKey(RANDOM.randbytes(32))
BLIND_KEY = RANDOM.randbytes(32)
MOBILE = "13812341234"


def encrypt(database: Database, cipher: FieldCipher, field: str, plaintext: str) -> str:
    with database.session() as session, session.begin():
        return cipher.encrypt(session, field, plaintext)


def decrypt(database: Database, cipher: FieldCipher, field: str, token: str) -> str:
    with database.session() as session:
        return cipher.decrypt(session, field, token)


def stored_data_keys(database: Database) -> list[sa.Row]:
    with database.engine.connect() as connection:
        return connection.execute(sa.select(data_keys).order_by(data_keys.c.created_at)).all()


# --- field cipher ---------------------------------------------------------------------------------------------------


def test_encrypted_field_decrypts_in_another_process_with_the_same_kek(database: Database) -> None:
    token = encrypt(database, FieldCipher(KEK), "customers.mobile", MOBILE)

    restarted = FieldCipher(KeyEncryptionKey(KEK.key))

    assert decrypt(database, restarted, "customers.mobile", token) == MOBILE


def test_chinese_text_round_trips(database: Database) -> None:
    cipher = FieldCipher(KEK)
    token = encrypt(database, cipher, "customers.name", "欧阳娜娜")

    assert decrypt(database, cipher, "customers.name", token) == "欧阳娜娜"


def test_ciphertext_names_format_and_data_key_and_hides_the_value(database: Database) -> None:
    cipher = FieldCipher(KEK)
    token = encrypt(database, cipher, "customers.mobile", MOBILE)

    version, key_id, payload = token.split(".", 2)

    assert version == "v1"
    assert key_id == stored_data_keys(database)[0].id
    assert MOBILE not in token
    assert MOBILE.encode() not in base64.b64decode(payload)


def test_same_value_encrypts_differently_each_time(database: Database) -> None:
    cipher = FieldCipher(KEK)

    first = encrypt(database, cipher, "customers.mobile", MOBILE)
    second = encrypt(database, cipher, "customers.mobile", MOBILE)

    assert first != second
    assert decrypt(database, cipher, "customers.mobile", first) == decrypt(database, cipher, "customers.mobile", second)


def test_ciphertext_of_one_field_does_not_decrypt_as_another(database: Database) -> None:
    cipher = FieldCipher(KEK)
    token = encrypt(database, cipher, "customers.mobile", MOBILE)

    with pytest.raises(DecryptionError):
        decrypt(database, cipher, "customers.id_number", token)


def test_tampered_ciphertext_is_detected(database: Database) -> None:
    cipher = FieldCipher(KEK)
    version, key_id, payload = encrypt(database, cipher, "customers.mobile", MOBILE).split(".", 2)
    raw = bytearray(base64.b64decode(payload))
    raw[NONCE_BYTES + 2] ^= 0x01

    with pytest.raises(DecryptionError):
        decrypt(database, cipher, "customers.mobile", f"{version}.{key_id}.{base64.b64encode(raw).decode()}")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: "v2" + token[2:],
        lambda token: token.split(".", 1)[0] + ".0000000000000000." + token.split(".", 2)[2],
        lambda token: token.rsplit(".", 1)[0],
        lambda token: "not a ciphertext",
        lambda token: token[: token.rindex(".") + 1] + "AAAA",
    ],
    ids=["unknown-version", "unknown-data-key", "no-payload", "garbage", "truncated-payload"],
)
def test_malformed_ciphertext_raises_decryption_error(database: Database, mangle: Callable[[str], str]) -> None:
    cipher = FieldCipher(KEK)
    token = encrypt(database, cipher, "customers.mobile", MOBILE)

    with pytest.raises(DecryptionError):
        decrypt(database, cipher, "customers.mobile", mangle(token))


def test_ciphertext_does_not_open_under_another_kek(database: Database) -> None:
    token = encrypt(database, FieldCipher(KEK), "customers.mobile", MOBILE)

    with pytest.raises(DecryptionError):
        decrypt(database, FieldCipher(OTHER_KEK), "customers.mobile", token)


def test_data_key_is_stored_wrapped_never_in_clear(database: Database) -> None:
    cipher = FieldCipher(KEK)
    token = encrypt(database, cipher, "customers.mobile", MOBILE)
    [row] = stored_data_keys(database)

    data_key = KEK.unwrap(row.wrapped_key, row.id)
    raw = base64.b64decode(token.split(".", 2)[2])

    assert AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], b"customers.mobile") == MOBILE.encode()
    for encoding in (base64.b64encode, base64.urlsafe_b64encode):
        assert encoding(data_key).decode().rstrip("=") not in row.wrapped_key
    assert data_key.hex() not in row.wrapped_key
    assert data_key not in base64.b64decode(row.wrapped_key)
    assert row.kek_id == KEK.id
    assert base64.b64encode(KEK.key).decode() not in row.kek_id


def test_wrapped_data_key_is_bound_to_its_id(database: Database) -> None:
    encrypt(database, FieldCipher(KEK), "customers.mobile", MOBILE)
    [row] = stored_data_keys(database)

    with pytest.raises(DecryptionError):
        KEK.unwrap(row.wrapped_key, "another-key-id")
    with pytest.raises(DecryptionError):
        OTHER_KEK.unwrap(row.wrapped_key, row.id)


def test_one_data_key_serves_many_values(database: Database) -> None:
    cipher = FieldCipher(KEK)
    for value in ("a", "b", "c"):
        encrypt(database, cipher, "customers.name", value)

    assert len(stored_data_keys(database)) == 1


def test_rotated_data_key_encrypts_new_values_and_old_values_still_open(database: Database) -> None:
    cipher = FieldCipher(KEK)
    old_token = encrypt(database, cipher, "customers.mobile", MOBILE)
    with database.session() as session, session.begin():
        session.execute(data_keys.update().values(retired_at=clock.now().replace(tzinfo=None)))
        new_key_id = create_data_key(session, KEK)
    cipher.forget_active_key()

    new_token = encrypt(database, cipher, "customers.mobile", "13912345678")

    assert new_token.split(".")[1] == new_key_id != old_token.split(".")[1]
    restarted = FieldCipher(KEK)
    assert decrypt(database, restarted, "customers.mobile", old_token) == MOBILE
    assert decrypt(database, restarted, "customers.mobile", new_token) == "13912345678"


def test_data_key_of_a_rolled_back_transaction_is_not_used_afterwards(database: Database) -> None:
    """The first value ever encrypted creates the data key; if that transaction rolls back (a conflict, a
    validation error), later values must not be encrypted under a key that was never stored."""
    cipher = FieldCipher(KEK)
    with database.session() as session:
        session.begin()
        cipher.encrypt(session, "customers.mobile", MOBILE)
        session.rollback()
        with session.begin():  # a later, unrelated commit on the same session
            session.execute(sa.text("SELECT 1"))

    token = encrypt(database, cipher, "customers.mobile", MOBILE)

    assert decrypt(database, FieldCipher(KEK), "customers.mobile", token) == MOBILE
    assert [row.id for row in stored_data_keys(database)] == [token.split(".")[1]]


# --- blind index ----------------------------------------------------------------------------------------------------


def test_blind_index_is_deterministic_for_one_key_and_kind() -> None:
    assert BlindIndex(BLIND_KEY).of("mobile", MOBILE) == BlindIndex(bytes(BLIND_KEY)).of("mobile", MOBILE)


def test_blind_index_differs_for_another_key() -> None:
    other_key = RANDOM.randbytes(32)

    assert BlindIndex(BLIND_KEY).of("mobile", MOBILE) != BlindIndex(other_key).of("mobile", MOBILE)


def test_blind_index_of_a_mobile_never_matches_an_id_number_with_the_same_text() -> None:
    index = BlindIndex(BLIND_KEY)

    assert index.of("mobile", MOBILE) != index.of("id_number", MOBILE)


def test_blind_index_tells_values_apart_and_reveals_none() -> None:
    index = BlindIndex(BLIND_KEY)
    mobiles = {f"138{RANDOM.randrange(10**8):08d}" for _ in range(200)}

    indexes = {index.of("mobile", mobile) for mobile in mobiles}

    assert len(indexes) == len(mobiles)
    assert all(len(value) == 64 and int(value, 16) >= 0 for value in indexes)
    assert not any(mobile in value for mobile in mobiles for value in indexes)
