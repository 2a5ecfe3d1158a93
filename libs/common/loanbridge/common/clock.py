"""The one clock: times are stored in UTC, business rules read them in the business time zone.

Code asks ``clock.now()`` (aware, UTC) instead of ``datetime.now()``; tests install a ``FixedClock`` with
``use_clock`` and move it with ``advance`` instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self._now += delta

    def set(self, instant: datetime) -> None:
        """Jump to an instant."""
        self._now = instant.astimezone(UTC)


_current: Clock = SystemClock()
_business_zone = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current instant in UTC from the installed clock."""
    return _current.now()


def install(clock: Clock) -> None:
    """Replace the process clock."""
    global _current
    _current = clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Install a clock for the duration of a block (tests)."""
    previous = _current
    install(clock)
    try:
        yield clock
    finally:
        install(previous)


def set_business_timezone(name: str) -> None:
    """Configure the business time zone (from settings, once at start)."""
    global _business_zone
    _business_zone = ZoneInfo(name)


def business_timezone() -> ZoneInfo:
    """The zone business days, quiet hours and SLA clocks are counted in."""
    return _business_zone


def to_business(instant: datetime) -> datetime:
    """An instant seen in the business time zone."""
    return as_utc(instant).astimezone(_business_zone)


def business_date(instant: datetime) -> date:
    """The business day an instant falls on."""
    return to_business(instant).date()


def business_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where a business day starts and the next one starts."""
    start = datetime(day.year, day.month, day.day, tzinfo=_business_zone)
    end = start + timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)


def as_utc(instant: datetime) -> datetime:
    """Treat a naive datetime (as databases return them) as UTC; convert an aware one."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def isoformat(instant: datetime) -> str:
    """UTC ISO-8601 with a Z, the form every event and API answer uses."""
    return as_utc(instant).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 instant (Z or offset) into aware UTC."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
