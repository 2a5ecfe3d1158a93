"""The AsyncAPI 2.6 document of the suite's events over AMQP, generated from code:

    .venv/bin/python -m loanbridge.common.events.asyncapi > docs/events/asyncapi.json

Channels are the routing keys of the catalog (``catalog.py``) and of every installed service's subscriptions, on
the topic exchange of ``topology.py``; each names its publisher (the type's first part, ARCHITECTURE.md §3) and
the queues bound to it. Message payloads are the CloudEvents envelope with ``data`` referencing the JSON Schema
under docs/events/. A test regenerates the document and compares it with the committed one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from loanbridge.common.config import EventSettings
from loanbridge.common.events.catalog import EVENT_TYPES, NOT_YET_PUBLISHED
from loanbridge.common.events.envelope import CONTENT_TYPE, MESSAGE_CONTENT_TYPE, SPECVERSION, Envelope, routing_key
from loanbridge.common.events.schemas import parse_routing_key, schema_path
from loanbridge.common.events.topology import EXCHANGE, UNROUTABLE_EXCHANGE, UNROUTABLE_QUEUE, ServiceQueues
from loanbridge.common.service import ServiceSpec, discover

ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.2.0"
VHOST = "/"

# How the relay publishes (events/broker.py): persistent, mandatory, with a timestamp; consumers acknowledge
# after their inbox commit (events/consumer.py).
PUBLISH_BINDING: dict[str, Any] = {
    "deliveryMode": 2,
    "mandatory": True,
    "timestamp": True,
    "ack": True,
    "bindingVersion": AMQP_BINDING_VERSION,
}

ENVELOPE_FIELDS: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "format": "uuid", "description": "The event's id; also the AMQP message_id."},
    "source": {"type": "string", "description": "The publishing service."},
    "type": {"type": "string", "description": "The event type, <service>.<entity>.<verb>; also the AMQP type."},
    "time": {
        "type": "string",
        "format": "date-time",
        "description": "When it happened (business time, UTC ISO-8601); demo data and imports may set it in the past.",
    },
    "subject": {"type": "string", "description": "The id of the aggregate the event is about."},
    "sequence": {
        "type": "integer",
        "minimum": 1,
        "description": "Increases per subject; a consumer keeps the newer one (order is not guaranteed).",
    },
    "data": {"type": "object", "description": "The event's data, documented per type under docs/events/."},
    "correlationid": {"type": "string", "description": "The X-Request-ID of the request that caused the event."},
    "causationid": {"type": ["string", "null"], "description": "The id of the event that caused this one, if any."},
    "actor": {"type": ["string", "null"], "description": "Who caused it (a user id or a client id), if anyone."},
    "specversion": {"const": SPECVERSION, "description": "CloudEvents specification version."},
    "datacontenttype": {"const": CONTENT_TYPE, "description": "The content type of data."},
    "dataschema": {
        "type": "string",
        "description": (
            "The JSON Schema of data, relative to the repository root: docs/events/<type>.v<major>.schema.json."
        ),
    },
}


def _envelope_schema() -> dict[str, Any]:
    names = [field.name for field in fields(Envelope) if field.name != "major"]
    undescribed = sorted(set(names) - set(ENVELOPE_FIELDS))
    if undescribed:
        raise KeyError(f"envelope fields without a description in asyncapi.ENVELOPE_FIELDS: {undescribed}")
    return {
        "type": "object",
        "description": "A CloudEvents 1.0 envelope (JSON, application/cloudevents+json); see docs/events.md.",
        "properties": {name: ENVELOPE_FIELDS[name] for name in names},
        "required": names,
        "additionalProperties": False,
    }


def _channel_keys(consumers: Mapping[str, list[str]]) -> list[str]:
    catalog = [routing_key(event_type) for event_type in EVENT_TYPES]
    return catalog + sorted(set(consumers) - set(catalog))


def _consumers(services: Mapping[str, ServiceSpec]) -> dict[str, list[str]]:
    by_key: dict[str, list[str]] = {}
    for name, spec in services.items():
        for key in spec.subscriptions:
            by_key.setdefault(key, []).append(name)
    return by_key


def _message(key: str) -> dict[str, Any]:
    event_type, major = parse_routing_key(key)
    publisher = event_type.split(".", 1)[0]
    published = event_type in EVENT_TYPES and event_type not in NOT_YET_PUBLISHED
    if published:
        data: dict[str, Any] = {"$ref": "./" + schema_path(event_type, major).rsplit("/", 1)[1]}
    else:
        data = {
            "type": "object",
            "description": "Not yet published: the schema comes with the service that publishes it.",
        }
    return {
        "messageId": key,
        "name": event_type,
        "title": f"{event_type} v{major}",
        "contentType": MESSAGE_CONTENT_TYPE,
        "correlationId": {"location": "$message.payload#/correlationid"},
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}},
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/envelope"},
                {
                    "type": "object",
                    "properties": {
                        "source": {"const": publisher},
                        "type": {"const": event_type},
                        "dataschema": {"const": schema_path(event_type, major)},
                        "data": data,
                    },
                },
            ]
        },
        "x-loanbridge-published": published,
    }


def build(services: Mapping[str, ServiceSpec], settings: EventSettings | None = None) -> dict[str, Any]:
    """The AsyncAPI document for these services (``discover()`` gives the installed ones)."""
    settings = settings or EventSettings(broker_url=None)
    consumers = _consumers(services)
    exchange = {"name": EXCHANGE, "type": "topic", "durable": True, "autoDelete": False, "vhost": VHOST}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for key in _channel_keys(consumers):
        event_type, major = parse_routing_key(key)
        publisher = event_type.split(".", 1)[0]
        message = _message(key)
        messages[key] = message
        channels[key] = {
            "description": f"{event_type} v{major}, published by {publisher} to {EXCHANGE} with routing key {key}.",
            "subscribe": {
                "operationId": f"receive.{key}",
                "summary": f"Receive {event_type} v{major} from {publisher}.",
                "bindings": {"amqp": PUBLISH_BINDING},
                "message": {"$ref": f"#/components/messages/{key}"},
            },
            "bindings": {"amqp": {"is": "routingKey", "exchange": exchange, "bindingVersion": AMQP_BINDING_VERSION}},
            "x-loanbridge-publisher": publisher,
            "x-loanbridge-consumers": [
                {"service": name, "queue": ServiceQueues(name, settings.retry_delays).main}
                for name in consumers.get(key, [])
            ],
        }
    queues = [ServiceQueues(name, settings.retry_delays) for name in services if services[name].subscriptions]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:loanbridge:events",
        "info": {
            "title": "LoanBridge events",
            "version": "1",
            "description": (
                "Integration events of the LoanBridge suite on RabbitMQ (ARCHITECTURE.md §3, docs/events.md). "
                "Generated by `python -m loanbridge.common.events.asyncapi`; do not edit by hand. "
                "Channels are routing keys <type>.v<major> on the topic exchange; `subscribe` is what a consumer "
                "receives. Payload data schemas are the JSON Schema (draft 2020-12) files beside this document."
            ),
        },
        "defaultContentType": MESSAGE_CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "url": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The suite's broker (LOANBRIDGE_BROKER_URL), virtual host /.",
                "variables": {"host": {"default": "127.0.0.1"}, "port": {"default": "5672"}},
            }
        },
        "channels": channels,
        "components": {"schemas": {"envelope": _envelope_schema()}, "messages": messages},
        "x-loanbridge-topology": {
            "exchange": {**exchange, "alternateExchange": UNROUTABLE_EXCHANGE},
            "unroutable": {"exchange": UNROUTABLE_EXCHANGE, "type": "fanout", "queue": UNROUTABLE_QUEUE},
            "queues": [
                {
                    "service": queue.service,
                    "queue": queue.main,
                    "type": "quorum",
                    "deliveryLimit": settings.delivery_limit,
                    "retryQueues": [name for name, _ in queue.retry_queues],
                    "deadLetterQueue": queue.dead_letter,
                    "bindings": len(services[queue.service].subscriptions),
                }
                for queue in queues
            ],
            "note": (
                "Retry queues and the delivery limit are shown with the default settings "
                "(LOANBRIDGE_EVENTS_RETRY_DELAYS, LOANBRIDGE_EVENTS_DELIVERY_LIMIT)."
            ),
        },
    }


def render(document: Mapping[str, Any]) -> str:
    """The document as committed: JSON, two-space indent, UTF-8 kept, a final newline."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    sys.stdout.buffer.write(render(build(discover())).encode("utf-8"))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
