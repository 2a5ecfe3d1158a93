"""SLA clocks: every deadline of the service ("4 working hours", "2 working days") is computed here, on the
firm's business calendar (libs/common: the firm's overrides, then the statutory calendar with 调休, then weekends
alone for a year it does not know, with a warning metric)."""

from __future__ import annotations

from datetime import datetime, timedelta

from loanbridge.common import clock
from loanbridge.common.calendar import BusinessCalendar

UNITS = ("working_hours", "working_days", "hours", "days")


def deadline(start: datetime, amount: float, unit: str, *, on: BusinessCalendar) -> datetime:
    """The instant ``amount`` of ``unit`` after ``start`` (aware UTC). Working hours count working time only;
    "N working days" ends at closing time of the N-th working day after the start's business date."""
    if unit == "hours":
        return clock.as_utc(start) + timedelta(hours=amount)
    if unit == "days":
        return clock.as_utc(start) + timedelta(days=amount)
    if unit == "working_hours":
        return on.add_working_hours(start, float(amount))
    if unit == "working_days":
        return on.working_days_deadline(start, max(1, round(amount)))
    raise ValueError(f"unknown SLA unit {unit!r}")


def before(instant: datetime, amount: float, unit: str) -> datetime:
    """A reminder time ``amount`` of ``unit`` before an instant (plain time: a reminder needs no calendar)."""
    factor = {"hours": 1, "working_hours": 1, "days": 24, "working_days": 24}[unit]
    return clock.as_utc(instant) - timedelta(hours=amount * factor)
