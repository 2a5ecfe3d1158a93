"""Rules of sending to customers and of retrying: quiet hours, the daily cap, back-off."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def outside_quiet_hours(instant: datetime, *, zone: ZoneInfo, start: time, end: time) -> datetime:
    """The instant itself, or the end of the quiet hours it falls in (21:00-08:00 → 08:00, business time)."""
    local = instant.astimezone(zone)
    moment = local.time()
    quiet = start <= moment < end if start <= end else moment >= start or moment < end
    if not quiet:
        return instant
    day = local.date() if moment < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def next_morning(instant: datetime, *, zone: ZoneInfo, end: time) -> datetime:
    """The end of quiet hours on the next business day (a customer who reached the daily cap hears tomorrow)."""
    day = instant.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def retry_delay(attempt: int, delays: tuple[float, ...]) -> float | None:
    """Seconds before the next attempt after ``attempt`` failures, or None when the attempts are spent."""
    if attempt > len(delays):
        return None
    return delays[attempt - 1]


def webhook_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential back-off for webhook deliveries: base, 2·base, 4·base, … never more than ``cap`` at once."""
    return float(min(cap, base * 2 ** (attempt - 1)))
