"""Policies: which event sends which template to whom, on which channels, and when.

A policy is a record: ``condition`` (field tests on the event's data), ``recipients`` (assignee, manager,
conflict_with, escalate_to, owner, route_to, customer, role:<role>), ``channels`` (inbox, dingtalk, wecom, sms,
email) and ``timing`` (now, a delay, or days before each installment of a schedule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

RECIPIENTS = ("assignee", "manager", "conflict_with", "escalate_to", "owner", "route_to", "customer")
CHANNELS = ("inbox", "dingtalk", "wecom", "sms", "email")
STAFF_CHANNELS = ("inbox", "dingtalk", "wecom", "email", "sms")
CUSTOMER_CHANNELS = ("sms",)
TIMINGS = ("now", "delay", "before_installments", "after_event")


def is_valid_recipient(name: str) -> bool:
    return name in RECIPIENTS or (name.startswith("role:") and len(name) > 5)


def matches(condition: dict[str, Any], data: dict[str, Any]) -> bool:
    """Every field test holds: a value (equal), {"not": v}, {"contains": v} (a list holds v), {"in": [..]}."""
    for field, expected in condition.items():
        actual = _field(data, field)
        if isinstance(expected, dict):
            if "not" in expected and actual == expected["not"]:
                return False
            if "contains" in expected and expected["contains"] not in (actual or []):
                return False
            if "in" in expected and actual not in expected["in"]:
                return False
        elif actual != expected:
            return False
    return True


def _field(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Occurrence:
    """One time a policy sends: when, what cancels it, and what it adds to the template's context."""

    due_at: datetime
    cancel_key: str | None
    context: dict[str, Any]
    key: str


def occurrences(timing: dict[str, Any], data: dict[str, Any], *, now: datetime, zone: ZoneInfo) -> list[Occurrence]:
    """When a policy sends for one event (UTC instants, counted in the business time zone)."""
    kind = timing.get("kind", "now")
    if kind == "before_installments":
        return _before_installments(timing, data, now=now, zone=zone)
    if kind == "after_event":
        day = (now.astimezone(zone) + timedelta(days=int(timing.get("days", 0)))).date()
        return [Occurrence(_at(day, timing.get("at", "10:00"), zone), _cancel_key(timing, data), {}, "")]
    if kind == "delay":
        due = now + timedelta(minutes=int(timing.get("minutes", 0)))
        return [Occurrence(due, _cancel_key(timing, data), {}, "")]
    return [Occurrence(now, _cancel_key(timing, data), {}, "")]


def _before_installments(
    timing: dict[str, Any], data: dict[str, Any], *, now: datetime, zone: ZoneInfo
) -> list[Occurrence]:
    days = int(timing.get("days", 3))
    found = []
    for line in data.get("schedule") or []:
        due_date = date.fromisoformat(line["due_date"])
        due_at = _at(due_date - timedelta(days=days), timing.get("at", "10:00"), zone)
        if due_date < now.astimezone(zone).date():
            continue  # an installment already due when the loan is recorded (imported history) gets no reminder
        found.append(
            Occurrence(
                due_at=max(due_at, now),
                cancel_key=installment_key(data["loan_id"], int(line["installment"])),
                context={"installment": line},
                key=str(line["installment"]),
            )
        )
    return found


def installment_key(loan_id: str, installment: int) -> str:
    return f"loan:{loan_id}:installment:{installment}"


def loan_prefix(loan_id: str) -> str:
    return f"loan:{loan_id}:"


def task_key(task_id: str) -> str:
    return f"task:{task_id}"


def _cancel_key(timing: dict[str, Any], data: dict[str, Any]) -> str | None:
    cancel = timing.get("cancel")
    if cancel == "task" and data.get("task_id"):
        return task_key(data["task_id"])
    if cancel == "loan" and data.get("loan_id"):
        return loan_prefix(data["loan_id"]) + "followup"
    return None


def _at(day: date, clock_time: str, zone: ZoneInfo) -> datetime:
    hour, minute = (int(part) for part in clock_time.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
