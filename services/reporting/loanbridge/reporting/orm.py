"""reporting's tables: the append-only event archive and the read models built only from it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loanbridge.common.tables import Timestamp

metadata = sa.MetaData()

event_archive = sa.Table(
    "event_archive",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("event_type", sa.String(120), nullable=False, index=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False, index=True),
    sa.Column("envelope", sa.Text, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
)

lead_facts = sa.Table(
    "lead_facts",
    metadata,
    sa.Column("lead_id", sa.String(36), primary_key=True),
    sa.Column("customer_id", sa.String(36), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("product", sa.String(32), nullable=False),
    sa.Column("city", sa.String(32), nullable=False),
    sa.Column("partner_id", sa.String(36), nullable=True),
    sa.Column("submitted_by", sa.String(64), nullable=False),
    sa.Column("team_id", sa.String(36), nullable=True),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),
    sa.Column("business_day", sa.Date, nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
    sa.Index("ix_lead_facts_day_channel_product", "business_day", "channel", "product"),
)


def lead_fact(session: Session, lead_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(lead_facts).where(lead_facts.c.lead_id == lead_id)
    return session.execute(query.with_for_update() if for_update else query).first()
