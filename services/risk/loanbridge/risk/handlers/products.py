"""Products as intake announces them: the form's own risk features (with their types) and the documents a
complete application needs. Rule sets of a product may read its features; dry runs judge its documents."""

from __future__ import annotations

import json

from loanbridge.common import clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.risk import orm


def on_product_published(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.product.published``: keep the newest form version's features and required documents."""
    data = event.data
    values = {
        "form_version": data["form_version"],
        "features": json.dumps({f["name"]: f["type"] for f in data["risk_features"]}, ensure_ascii=False),
        "required_documents": json.dumps(data["required_documents"], ensure_ascii=False),
        "changed_at": naive_utc(clock.parse_iso(event.time)),
    }
    current = orm.product(uow.session, data["product"])
    if current is None:
        uow.session.execute(orm.product_features.insert(), {"product": data["product"], **values})
    elif (current.form_version or 0) <= data["form_version"]:
        uow.session.execute(
            orm.product_features.update().where(orm.product_features.c.product == data["product"]).values(**values)
        )
