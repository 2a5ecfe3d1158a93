"""The JSON Schemas of event data under docs/events/, and the check of an event's data against its schema.

Every envelope names its schema in ``dataschema`` (``docs/events/<type>.v<major>.schema.json``, relative to the
repository root). ``validate_data`` answers readable errors: an undocumented type, a field the schema does not
know, a documented field missing or of the wrong type or format. Tests run it over every event the services
publish, so the catalog in docs/events/ cannot drift from the code (ARCHITECTURE.md §3).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from loanbridge.common.events.envelope import Envelope, dataschema

DOCS_EVENTS = Path("docs") / "events"

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class UndocumentedEventType(LookupError):
    """An event type (and major version) has no schema file under docs/events/."""


def schema_path(event_type: str, major: int = 1) -> str:
    """Where a type's data schema lives, relative to the repository root: what envelopes carry in ``dataschema``."""
    return dataschema(event_type, major)


def parse_routing_key(key: str) -> tuple[str, int]:
    """``intake.lead.created.v1`` is type ``intake.lead.created``, major version 1."""
    event_type, _, version = key.rpartition(".v")
    if not event_type or not version.isdigit():
        raise ValueError(f"{key!r} is not a routing key of the form <type>.v<major>")
    return event_type, int(version)


def repository_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds docs/events/ (the repository root)."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if (directory / DOCS_EVENTS).is_dir():
            return directory
    raise FileNotFoundError(f"no {DOCS_EVENTS}/ at or above {start}")


def load_schema(event_type: str, major: int = 1, *, root: Path) -> dict[str, Any]:
    """The JSON Schema of a type's data, from the docs/events/ found at or above ``root``.

    Raises ``UndocumentedEventType`` when the type has no schema file.
    """
    schema: dict[str, Any] = json.loads(_schema_text(event_type, major, root))
    return schema


def validate_data(envelope: Envelope, root: Path) -> list[str]:
    """Readable errors of an event's data against its schema; empty when the data is as documented.

    ``root`` is the repository root or any directory below it. The envelope's ``dataschema`` must name the
    schema of its type and major version; a type without a schema file is itself an error.
    """
    expected = schema_path(envelope.type, envelope.major)
    errors = []
    if envelope.dataschema != expected:
        errors.append(f"{envelope.type} (event {envelope.id}): dataschema is {envelope.dataschema!r}, not {expected!r}")
    try:
        validator = _validator(_schema_text(envelope.type, envelope.major, root))
    except UndocumentedEventType as undocumented:
        return [*errors, str(undocumented)]
    found = sorted(validator.iter_errors(envelope.data), key=lambda error: [str(part) for part in error.absolute_path])
    for error in found:
        where = "".join(f"/{part}" for part in error.absolute_path)
        errors.append(f"{envelope.type} (event {envelope.id}) at data{where}: {error.message}")
    return errors


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``jsonschema.SchemaError`` when ``schema`` is not a valid draft 2020-12 schema."""
    Draft202012Validator.check_schema(schema)


def _is_date_time(instance: object) -> bool:
    """RFC 3339 date-time (jsonschema checks this format only with an optional extra installed)."""
    if not isinstance(instance, str):
        return True
    if not _RFC3339.match(instance):
        return False
    try:
        datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    return checker


FORMAT_CHECKER = _format_checker()


def _schema_text(event_type: str, major: int, root: Path) -> str:
    relative = schema_path(event_type, major)
    path = repository_root(root) / relative
    if not path.is_file():
        raise UndocumentedEventType(f"{event_type} v{major}: undocumented event type (no {relative})")
    return _read_text(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=256)
def _read_text(path: str, mtime_ns: int) -> str:
    return Path(path).read_text(encoding="utf-8")


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text), format_checker=FORMAT_CHECKER)
