"""Key rotation in identity: data keys re-wrapped under a new KEK, then replaced, with staff contacts and signing
keys still opening under the new keys alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.pii import crypto
from loanbridge.common.pii.crypto import data_key_of, new_key_text
from loanbridge.common.tables import data_keys
from loanbridge.common.testing import harness
from loanbridge.identity import handlers, orm, rotation


def contacts_of(service: harness.ServiceUnderTest, user_id: str) -> dict[str, Any]:
    runtime = service.runtime
    return runtime.transaction(handlers.staff_contacts, config=runtime.config, user_id=user_id, caller="test")


def test_contacts_and_signing_keys_survive_a_kek_rotation_and_a_data_key_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_env = harness.environment_for_tests(tmp_path)
    before = harness.service_runtime("identity", old_env)
    user_id = before.runtime.transaction(
        handlers.create_user, config=before.runtime.config, username="wang", password="pass-word-1",
        display_name="王", roles=["sales"], mobile="13700001111", email="wang@example.cn",
    )["id"]  # fmt: skip
    before.client().get("/api/identity/v1/jwks")
    before.runtime.transaction(handlers.rotate_signing_key, config=before.runtime.config)
    expected = contacts_of(before, user_id)

    env = {
        **old_env,
        "LOANBRIDGE_PII_KEK": new_key_text(),
        "LOANBRIDGE_PII_KEK_PREVIOUS": old_env["LOANBRIDGE_PII_KEK"],
    }
    rotating = harness.service_runtime("identity", env)
    assert rotation.rewrap_keys(rotating.runtime) >= 1
    monkeypatch.setattr(crypto.time, "sleep", lambda _seconds: None)
    assert rotation.reencrypt(rotating.runtime, before=None) >= 2  # the user and the signing key(s)

    only_new = harness.service_runtime("identity", {k: v for k, v in env.items() if k != "LOANBRIDGE_PII_KEK_PREVIOUS"})
    assert contacts_of(only_new, user_id) == expected
    with only_new.runtime.database.session() as session:
        active = only_new.runtime.config.cipher.active_key_id(session)
        user = session.execute(sa.select(orm.users).where(orm.users.c.id == user_id)).one()
        keys_in_use = {data_key_of(user.mobile_enc), data_key_of(user.email_enc)} | {
            data_key_of(row.private_key_enc) for row in session.execute(sa.select(orm.signing_keys))
        }
        wrapped_by = set(session.execute(sa.select(data_keys.c.kek_id)).scalars())
    assert keys_in_use == {active}
    assert wrapped_by == {only_new.runtime.config.cipher.kek.id}
