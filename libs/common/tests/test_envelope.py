"""The event envelope: CloudEvents attribute names, versioned routing keys and a lossless JSON round trip."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.events.envelope import Envelope, dataschema, routing_key

NOW = datetime(2026, 3, 15, 2, 30, tzinfo=UTC)


def lead_created(**overrides: object) -> Envelope:
    arguments: dict = {
        "source": "intake",
        "event_type": "intake.lead.created",
        "subject": "lead-42",
        "sequence": 3,
        "data": {"lead_id": "lead-42", "masked_name": "张*", "city": "济南", "amount": 300000},
        "correlation_id": "req-1",
        "causation_id": None,
        "actor": "user-7",
        **overrides,
    }
    return Envelope.new(**arguments)


def test_routing_key_is_the_type_with_its_major_version() -> None:
    assert routing_key("intake.lead.created") == "intake.lead.created.v1"
    assert routing_key("workflow.stage.changed", 2) == "workflow.stage.changed.v2"
    assert lead_created().routing_key == "intake.lead.created.v1"
    assert lead_created(major=3).routing_key == "intake.lead.created.v3"


def test_dataschema_points_at_the_documented_schema_of_that_version() -> None:
    assert dataschema("risk.evaluation.completed", 2) == "docs/events/risk.evaluation.completed.v2.schema.json"
    assert lead_created().dataschema == "docs/events/intake.lead.created.v1.schema.json"


def test_new_envelope_carries_cloudevents_attributes_and_extensions() -> None:
    with use_clock(FixedClock(NOW)):
        envelope = lead_created(causation_id="evt-0")

    body = json.loads(envelope.to_json())

    assert body["specversion"] == "1.0"
    assert uuid.UUID(body["id"])
    assert body["source"] == "intake"
    assert body["type"] == "intake.lead.created"
    assert body["time"] == "2026-03-15T02:30:00Z"
    assert body["subject"] == "lead-42"
    assert body["datacontenttype"] == "application/json"
    assert body["dataschema"] == "docs/events/intake.lead.created.v1.schema.json"
    assert body["sequence"] == 3
    assert body["correlationid"] == "req-1"
    assert body["causationid"] == "evt-0"
    assert body["actor"] == "user-7"
    assert body["data"]["masked_name"] == "张*"
    assert "major" not in body


def test_each_new_envelope_gets_its_own_id() -> None:
    assert lead_created().id != lead_created().id


def test_business_time_in_the_past_is_kept_as_the_event_time() -> None:
    past = NOW - timedelta(days=90)

    with use_clock(FixedClock(NOW)):
        envelope = lead_created(occurred_at=past)

    assert envelope.time == "2025-12-15T02:30:00Z"
    assert envelope.occurred_at == past


def test_json_round_trip_gives_back_an_equal_envelope() -> None:
    original = lead_created(causation_id="evt-9")

    assert Envelope.from_json(original.to_json()) == original
    assert Envelope.from_json(original.to_json().encode()) == original


def test_json_round_trip_keeps_the_major_version_of_the_type() -> None:
    original = lead_created(major=2)

    parsed = Envelope.from_json(original.to_json())

    assert parsed.major == 2
    assert parsed.routing_key == "intake.lead.created.v2"


def test_chinese_text_is_written_as_text_not_escapes() -> None:
    raw = lead_created().to_json()

    assert "张*" in raw
    assert "济南" in raw


def test_reader_tolerates_attributes_it_does_not_know() -> None:
    body = json.loads(lead_created().to_json())
    body["traceparent"] = "00-abc-def-01"

    parsed = Envelope.from_json(json.dumps(body))

    assert parsed.subject == "lead-42"
    assert parsed.routing_key == "intake.lead.created.v1"


def test_envelope_without_dataschema_is_read_as_version_1() -> None:
    body = json.loads(lead_created(major=2).to_json())
    del body["dataschema"]

    assert Envelope.from_json(json.dumps(body)).routing_key == "intake.lead.created.v1"


@pytest.mark.parametrize("missing", ["id", "type", "subject", "sequence", "data", "correlationid"])
def test_envelope_lacking_a_required_attribute_is_refused_naming_it(missing: str) -> None:
    body = json.loads(lead_created().to_json())
    del body[missing]

    with pytest.raises(ValueError, match=missing):
        Envelope.from_json(json.dumps(body))


@pytest.mark.parametrize("raw", ["[1, 2]", '"intake.lead.created"', "not json"])
def test_message_that_is_not_a_json_object_is_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        Envelope.from_json(raw)
