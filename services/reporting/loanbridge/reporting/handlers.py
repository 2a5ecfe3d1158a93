"""reporting's event handlers: archive every event, then update the read models from it."""

from __future__ import annotations

from typing import Any

from loanbridge.common import clock
from loanbridge.common.events.envelope import Envelope
from loanbridge.common.uow import UnitOfWork, naive_utc
from loanbridge.reporting import orm


def archive(uow: UnitOfWork, event: Envelope) -> None:
    """Keep the event as received; read models can be rebuilt from the archive alone."""
    uow.session.execute(
        orm.event_archive.insert(),
        {
            "event_id": event.id,
            "event_type": event.type,
            "subject": event.subject,
            "sequence": event.sequence,
            "occurred_at": naive_utc(event.occurred_at),
            "envelope": event.to_json(),
            "received_at": naive_utc(clock.now()),
        },
    )


def _lead_fact_values(event: Envelope) -> dict[str, Any]:
    data = event.data
    created_at = clock.parse_iso(data["created_at"])
    return {
        "customer_id": data["customer_id"],
        "channel": data["channel"],
        "product": data["product"],
        "city": data["city"],
        "partner_id": data.get("partner_id"),
        "submitted_by": data["submitted_by"],
        "amount": data["amount"],
        "business_day": clock.business_date(created_at),
        "occurred_at": naive_utc(created_at),
        "last_sequence": event.sequence,
    }


def on_lead_recorded(uow: UnitOfWork, event: Envelope) -> None:
    """``intake.lead.created`` / ``.updated``: the lead's fact row, the newer sequence winning.

    A lead counts on the business day it was created, whichever of its events arrives first.
    """
    archive(uow, event)
    lead_id = event.data["lead_id"]
    current = orm.lead_fact(uow.session, lead_id, for_update=True)
    values = _lead_fact_values(event)
    if current is None:
        uow.session.execute(orm.lead_facts.insert(), {"lead_id": lead_id, **values})
        return
    if event.sequence <= current.last_sequence:
        return
    uow.session.execute(orm.lead_facts.update().where(orm.lead_facts.c.lead_id == lead_id).values(**values))
