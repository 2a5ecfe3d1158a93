"""The business calendar: which days are working days, and how much working time lies between two instants.

A day's status comes from the firm's overrides first, then the ``chinese_calendar`` package (statutory holidays
and the make-up working days 调休), and for a year the package has no data for from weekends alone. A missing year
is never an error: it logs ``calendar_year_missing`` once per year and process and sets
``loanbridge_calendar_year_missing{year}`` to 1, so someone enters that year's holidays as overrides.

Days and hours are read in the business time zone (``clock.business_timezone()``); instants come back in UTC.
"Within N working days" ends at closing time of the N-th working day after the start's business date: the start
day never counts, whatever the hour, so a case opened at 08:00 or at 17:59 gets the same N whole days. Work that is
measured in hours (SLA clocks) uses ``add_working_hours`` instead, which starts at the next opening when the start
lies outside working time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import chinese_calendar
import structlog

from loanbridge.common import clock, metrics

log = structlog.get_logger(__name__)

ONE_DAY = timedelta(days=1)
# Ten years without a working day means the overrides are wrong; stop instead of looping for ever.
SEARCH_LIMIT_DAYS = 3660

_reported_years: set[int] = set()
_reported_lock = threading.Lock()


@dataclass(frozen=True)
class WorkingHours:
    """Opening hours of a working day in the business time zone, with an optional lunch break."""

    opens: time = time(9, 0)
    closes: time = time(18, 0)
    lunch_starts: time | None = None
    lunch_ends: time | None = None

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("working hours must open before they close")
        if (self.lunch_starts is None) != (self.lunch_ends is None):
            raise ValueError("a lunch break needs both a start and an end")
        if self.lunch_starts is None or self.lunch_ends is None:
            return
        if not self.opens < self.lunch_starts < self.lunch_ends < self.closes:
            raise ValueError("the lunch break must lie inside working hours")

    @classmethod
    def parse(cls, hours: str = "09:00-18:00", lunch: str = "") -> WorkingHours:
        """Working hours from settings text such as ``"09:00-18:00"`` and ``"12:00-13:30"`` (empty: no lunch)."""
        opens, closes = _parse_span(hours)
        if not lunch.strip():
            return cls(opens, closes)
        lunch_starts, lunch_ends = _parse_span(lunch)
        return cls(opens, closes, lunch_starts, lunch_ends)

    def periods(self) -> tuple[tuple[time, time], ...]:
        """The working spans of one day, in order."""
        if self.lunch_starts is None or self.lunch_ends is None:
            return ((self.opens, self.closes),)
        return ((self.opens, self.lunch_starts), (self.lunch_ends, self.closes))


@dataclass(frozen=True)
class DayOverride:
    """The firm's own ruling on one day, ahead of the statutory calendar."""

    working: bool
    note: str = ""


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days and working hours of one firm."""

    hours: WorkingHours = field(default_factory=WorkingHours)
    overrides: Mapping[date, DayOverride] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        """Whether people work on this business date."""
        override = self.overrides.get(day)
        if override is not None:
            return override.working
        return _statutory_working_day(day)

    def next_working_day(self, day: date) -> date:
        """The first working day after ``day`` (never ``day`` itself)."""
        return self._step(day, ONE_DAY)

    def previous_working_day(self, day: date) -> date:
        """The last working day before ``day`` (never ``day`` itself)."""
        return self._step(day, -ONE_DAY)

    def add_working_days(self, start: date, n: int) -> date:
        """The date ``n`` working days after ``start`` (before it when negative); ``start`` itself is not counted."""
        day = start
        direction = ONE_DAY if n >= 0 else -ONE_DAY
        for _ in range(abs(n)):
            day = self._step(day, direction)
        return day

    def working_days_deadline(self, start: datetime, n: int) -> datetime:
        """The deadline "within n working days" of an instant: closing time of the n-th working day after its date."""
        if n < 1:
            raise ValueError("a deadline in working days needs n >= 1")
        return self.closing_time(self.add_working_days(clock.business_date(start), n))

    def closing_time(self, day: date) -> datetime:
        """The instant (UTC) a day's working hours end."""
        return _at(day, self.hours.closes)

    def is_working_time(self, instant: datetime) -> bool:
        """Whether an instant falls inside working hours of a working day."""
        moment = clock.as_utc(instant)
        opens, _ = next(self._working_spans(moment))
        return opens == moment

    def next_opening(self, instant: datetime) -> datetime:
        """The instant itself when it is working time, else the next time work starts (UTC)."""
        opens, _ = next(self._working_spans(clock.as_utc(instant)))
        return opens

    def add_working_hours(self, start: datetime, amount: timedelta | float) -> datetime:
        """The instant (UTC) after ``amount`` (hours, or a timedelta) of working time from ``start``."""
        remaining = amount if isinstance(amount, timedelta) else timedelta(hours=amount)
        if remaining < timedelta(0):
            raise ValueError("working time to add must not be negative")
        for opens, closes in self._working_spans(clock.as_utc(start)):
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
        raise AssertionError("unreachable: working spans never run out")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from ``start`` to ``end``; negative when ``end`` comes first."""
        start, end = clock.as_utc(start), clock.as_utc(end)
        if end < start:
            return -self.working_time_between(end, start)
        total = timedelta(0)
        for opens, closes in self._working_spans(start):
            if opens >= end:
                return total
            total += min(closes, end) - opens
        raise AssertionError("unreachable: working spans never run out")

    def _step(self, day: date, direction: timedelta) -> date:
        candidate = day + direction
        for _ in range(SEARCH_LIMIT_DAYS):
            if self.is_working_day(candidate):
                return candidate
            candidate += direction
        raise ValueError(f"no working day within {SEARCH_LIMIT_DAYS} days of {day.isoformat()}")

    def _working_spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (UTC) from ``start`` on, the first one clipped to ``start``."""
        day = clock.business_date(start)
        if not self.is_working_day(day):
            day = self.next_working_day(day)
        while True:
            for opens, closes in self.hours.periods():
                span_opens, span_closes = _at(day, opens), _at(day, closes)
                if span_closes > start:
                    yield max(span_opens, start), span_closes
            day = self.next_working_day(day)


_current = BusinessCalendar()


def current() -> BusinessCalendar:
    """The process calendar (default hours, no overrides until one is installed)."""
    return _current


def install(calendar: BusinessCalendar) -> None:
    """Replace the process calendar (at start, and after the firm changes its hours or overrides)."""
    global _current
    _current = calendar


@contextmanager
def use_calendar(calendar: BusinessCalendar) -> Iterator[BusinessCalendar]:
    """Install a calendar for the duration of a block (tests)."""
    previous = _current
    install(calendar)
    try:
        yield calendar
    finally:
        install(previous)


def missing_years() -> frozenset[int]:
    """Years this process has met that the holiday package has no data for."""
    with _reported_lock:
        return frozenset(_reported_years)


def _statutory_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _report_missing_year(day.year)
        return day.weekday() < 5


def _report_missing_year(year: int) -> None:
    with _reported_lock:
        if year in _reported_years:
            return
        _reported_years.add(year)
    metrics.CALENDAR_YEAR_MISSING.labels(str(year)).set(1)
    log.warning("calendar_year_missing", year=year, fallback="weekends_only")


def _at(day: date, moment: time) -> datetime:
    zone = clock.business_timezone()
    return clock.as_utc(datetime.combine(day, moment, tzinfo=zone))


def _parse_span(text: str) -> tuple[time, time]:
    first, _, second = text.partition("-")
    return time.fromisoformat(first.strip()), time.fromisoformat(second.strip())
