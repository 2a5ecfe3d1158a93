"""Key rotation in notify: the data keys sealing webhook secrets re-wrapped under a new KEK, then replaced by
``rotate-keys --data-keys``, with every secret still opening under the new key and KEK alone."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from loanbridge.common.events.catalog import EVENT_TYPES
from loanbridge.common.pii.crypto import data_key_of, new_key_text
from loanbridge.common.tables import data_keys
from loanbridge.common.testing import harness
from loanbridge.notify import orm
from loanbridge.notify.handlers import webhooks
from loanbridge.notify.service import SERVICE


def secrets_of(service: harness.ServiceUnderTest) -> dict[str, str]:
    cipher = service.runtime.config.cipher
    with service.runtime.database.session() as session:
        rows = session.execute(sa.select(orm.webhooks.c.id, orm.webhooks.c.secret)).all()
        return {row.id: cipher.decrypt(session, webhooks.SECRET_FIELD, row.secret) for row in rows}


def test_webhook_secrets_move_to_a_new_data_key_and_open_with_the_new_kek_alone(tmp_path: Path) -> None:
    old_env = harness.environment_for_tests(tmp_path)
    before = harness.service_runtime("notify", old_env)
    for n in range(3):
        before.runtime.transaction(
            webhooks.register_webhook, actor="admin-1", name=f"系统{n}", url=f"https://hooks.example.cn/{n}",
            event_types=[sorted(EVENT_TYPES)[0]], secret=f"secret-{n}",
        )  # fmt: skip
    expected = secrets_of(before)
    with before.runtime.database.session() as session:
        old_key = before.runtime.config.cipher.active_key_id(session)

    env = {
        **old_env,
        "LOANBRIDGE_PII_KEK": new_key_text(),
        "LOANBRIDGE_PII_KEK_PREVIOUS": old_env["LOANBRIDGE_PII_KEK"],
    }
    rotating = harness.service_runtime("notify", env)
    assert SERVICE.reencrypt is webhooks.reencrypt, "rotate-keys --data-keys reaches notify"
    assert webhooks.rewrap_keys(rotating.runtime) == 1
    assert webhooks.reencrypt(rotating.runtime, before=None, settle=0) == 3

    only_new = harness.service_runtime("notify", {k: v for k, v in env.items() if k != "LOANBRIDGE_PII_KEK_PREVIOUS"})
    assert secrets_of(only_new) == expected
    with only_new.runtime.database.session() as session:
        active = only_new.runtime.config.cipher.active_key_id(session)
        used = {data_key_of(token) for token in session.execute(sa.select(orm.webhooks.c.secret)).scalars()}
        keys = {row.id: row for row in session.execute(sa.select(data_keys))}
    assert used == {active} and active != old_key
    assert keys[old_key].retired_at is not None
    assert {row.kek_id for row in keys.values()} == {only_new.runtime.config.cipher.kek.id}
