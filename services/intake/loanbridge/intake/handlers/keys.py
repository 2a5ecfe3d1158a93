"""Key rotation for intake (``loanbridge rotate-keys``): re-wrap every key under the current KEK, and, with
``--data-keys``, give every customer a new key and re-seal everything sealed with the old one (their fields,
the personal fields of their forms, follow-up notes and documents), one customer per transaction, while the
service keeps serving: a customer being re-keyed holds its key row locked, and writers seal under a shared lock
on it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog

from loanbridge.common import clock
from loanbridge.common.pii.vault import SubjectKey
from loanbridge.common.runtime import Runtime
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.intake import orm
from loanbridge.intake.config import IntakeConfig
from loanbridge.intake.handlers.imports import rewrap_import_keys
from loanbridge.intake.storage import open_sealed, seal

log = structlog.get_logger(__name__)

BATCH = 100
CUSTOMER_FIELDS = ("name_enc", "mobile_enc", "id_number_enc", "address_enc")


def rewrap_keys(runtime: Runtime) -> int:
    """Re-wrap every customer key and import key still under the previous KEK; returns how many."""
    config: IntakeConfig = runtime.config
    total = 0
    while moved := runtime.transaction(lambda uow: config.vault.rewrap(uow.session)):
        total += moved
    while moved := runtime.transaction(rewrap_import_keys, config=config):
        total += moved
    return total


def rekey_customers(runtime: Runtime, *, before: datetime) -> int:
    """Give every customer whose key is older than ``before`` a new one; returns how many were re-keyed."""
    done, after = 0, ""
    keys_table = orm.customer_keys
    while True:
        with runtime.database.session() as session:
            customer_ids = (
                session.execute(
                    sa.select(keys_table.c.customer_id)
                    .where(keys_table.c.created_at < naive_utc(before), keys_table.c.customer_id > after)
                    .order_by(keys_table.c.customer_id)
                    .limit(BATCH)
                )
                .scalars()
                .all()
            )
        if not customer_ids:
            return done
        for customer_id in customer_ids:
            retired_blobs = runtime.transaction(_rekey_customer, config=runtime.config, customer_id=customer_id)
            for key in retired_blobs:
                runtime.config.documents.delete(key)
            done += 1
        after = customer_ids[-1]
        log.info("customers_rekeyed", count=done)


def _rekey_customer(uow: UnitOfWork, *, config: IntakeConfig, customer_id: str) -> list[str]:
    """Re-seal one customer's values under a new key; returns the storage keys of the documents it replaced
    (deleted once this transaction has committed)."""
    pair = config.vault.rekey(uow.session, customer_id, now=clock.now())
    if pair is None:
        return []
    old, new = pair
    session = uow.session
    customer = orm.customer_by_id(session, customer_id)
    resealed = {
        column: new.seal(column.removesuffix("_enc"), old.open(column.removesuffix("_enc"), value))
        for column in CUSTOMER_FIELDS
        if (value := getattr(customer, column))
    }
    if resealed:
        session.execute(orm.customers.update().where(orm.customers.c.id == customer_id).values(**resealed))
    for lead in session.execute(
        sa.select(orm.leads.c.id, orm.leads.c.form).where(orm.leads.c.customer_id == customer_id)
    ):
        form = {name: _reseal(old, new, f"form.{name}", value) for name, value in json.loads(lead.form).items()}
        session.execute(
            orm.leads.update().where(orm.leads.c.id == lead.id).values(form=json.dumps(form, ensure_ascii=False))
        )
    for followup in session.execute(
        sa.select(orm.followups.c.id, orm.followups.c.note_enc).where(
            orm.followups.c.customer_id == customer_id, orm.followups.c.note_enc.is_not(None)
        )
    ):
        session.execute(
            orm.followups.update()
            .where(orm.followups.c.id == followup.id)
            .values(note_enc=new.seal("followup.note", old.open("followup.note", followup.note_enc)))
        )
    return _reseal_documents(uow, config, customer_id, old, new)


def _reseal(old: SubjectKey, new: SubjectKey, field: str, value: Any) -> Any:
    if isinstance(value, str) and value.startswith("s1."):
        return new.seal(field, old.open(field, value))
    return value


def _reseal_documents(
    uow: UnitOfWork, config: IntakeConfig, customer_id: str, old: SubjectKey, new: SubjectKey
) -> list[str]:
    retired = []
    rows = uow.session.execute(
        sa.select(orm.documents.c.id, orm.documents.c.storage_key).where(
            orm.documents.c.customer_id == customer_id, orm.documents.c.erased_at.is_(None)
        )
    ).all()
    for row in rows:
        content = open_sealed(config.documents.get(row.storage_key), old.key, row.id)
        # A new object, not an overwrite: until this transaction commits, the old key still opens the old one.
        storage_key = f"{customer_id}/{row.id}.{int(clock.now().timestamp() * 1000)}"
        config.documents.put(storage_key, seal(content, new.key, row.id))
        uow.session.execute(orm.documents.update().where(orm.documents.c.id == row.id).values(storage_key=storage_key))
        retired.append(row.storage_key)
    return retired
