"""The event envelope: CloudEvents 1.0 attribute names plus sequence, correlation, causation and actor."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from loanbridge.common import clock
from loanbridge.common.context import new_id

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
MESSAGE_CONTENT_TYPE = "application/cloudevents+json"


def routing_key(event_type: str, major: int = 1) -> str:
    """``intake.lead.created`` version 1 travels as ``intake.lead.created.v1``."""
    return f"{event_type}.v{major}"


def dataschema(event_type: str, major: int = 1) -> str:
    """Where the JSON Schema of an event type's data lives, relative to the project's docs."""
    return f"docs/events/{event_type}.v{major}.schema.json"


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: str
    subject: str
    sequence: int
    data: dict[str, Any]
    correlationid: str
    causationid: str | None = None
    actor: str | None = None
    specversion: str = SPECVERSION
    datacontenttype: str = CONTENT_TYPE
    dataschema: str = field(default="")
    major: int = 1

    @classmethod
    def new(
        cls,
        *,
        source: str,
        event_type: str,
        subject: str,
        sequence: int,
        data: dict[str, Any],
        correlation_id: str,
        causation_id: str | None,
        actor: str | None,
        occurred_at: datetime | None = None,
        major: int = 1,
    ) -> Envelope:
        """A new event; ``occurred_at`` is business time (demo data and imports may set it in the past)."""
        return cls(
            id=new_id(),
            source=source,
            type=event_type,
            time=clock.isoformat(occurred_at or clock.now()),
            subject=subject,
            sequence=sequence,
            data=data,
            correlationid=correlation_id,
            causationid=causation_id,
            actor=actor,
            dataschema=dataschema(event_type, major),
            major=major,
        )

    @property
    def routing_key(self) -> str:
        return routing_key(self.type, self.major)

    @property
    def occurred_at(self) -> datetime:
        return clock.parse_iso(self.time)

    def to_json(self) -> str:
        body = {name: getattr(self, name) for name in ENVELOPE_ATTRIBUTES}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Envelope:
        """Parse an envelope; raises ``ValueError`` when it is not one."""
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("envelope is not a JSON object")
        try:
            major = int(str(body.get("dataschema", "")).rsplit(".v", 1)[1].split(".", 1)[0])
        except (IndexError, ValueError):
            major = 1
        known = {name for name in cls.__dataclass_fields__ if name != "major"}
        missing = {
            "id",
            "source",
            "type",
            "time",
            "subject",
            "sequence",
            "data",
            "correlationid",
        } - body.keys()
        if missing:
            raise ValueError(f"envelope lacks {sorted(missing)}")
        return cls(**{k: v for k, v in body.items() if k in known}, major=major)


# The attributes an envelope carries on the wire (``major`` is derived from ``dataschema``).
ENVELOPE_ATTRIBUTES = tuple(f.name for f in fields(Envelope) if f.name != "major")
