"""The one clock: a fixed clock for tests, UTC storage, and business days in the business time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from loanbridge.common import clock
from loanbridge.common.clock import FixedClock, use_clock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_fixed_clock_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1, 9, 0))


def test_fixed_clock_answers_utc_whatever_zone_it_was_given() -> None:
    fixed = FixedClock(datetime(2026, 1, 2, 1, 0, tzinfo=SHANGHAI))

    assert fixed.now() == datetime(2026, 1, 1, 17, 0, tzinfo=UTC)
    assert fixed.now().utcoffset() == timedelta(0)


def test_fixed_clock_moves_only_when_advanced_or_set() -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    fixed = FixedClock(start)
    assert fixed.now() == fixed.now() == start

    fixed.advance(timedelta(days=3, minutes=5))
    assert fixed.now() == datetime(2026, 3, 4, 8, 5, tzinfo=UTC)

    fixed.set(datetime(2026, 5, 1, 12, 0, tzinfo=SHANGHAI))
    assert fixed.now() == datetime(2026, 5, 1, 4, 0, tzinfo=UTC)


def test_use_clock_installs_the_clock_for_the_block_only() -> None:
    fixed = FixedClock(datetime(2020, 2, 29, 12, 0, tzinfo=UTC))

    with use_clock(fixed):
        assert clock.now() == datetime(2020, 2, 29, 12, 0, tzinfo=UTC)
        fixed.advance(timedelta(hours=1))
        assert clock.now() == datetime(2020, 2, 29, 13, 0, tzinfo=UTC)

    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)


def test_use_clock_puts_the_previous_clock_back_when_the_block_raises() -> None:
    outer = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    inner = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))

    with use_clock(outer):
        with pytest.raises(RuntimeError), use_clock(inner):
            raise RuntimeError("handler failed")
        assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)


def test_system_clock_is_aware_utc() -> None:
    now = clock.SystemClock().now()

    assert now.utcoffset() == timedelta(0)


def test_evening_in_utc_is_already_the_next_business_day_in_shanghai() -> None:
    assert clock.business_date(datetime(2026, 1, 1, 17, 0, tzinfo=UTC)) == date(2026, 1, 2)
    assert clock.business_date(datetime(2026, 1, 1, 15, 59, 59, tzinfo=UTC)) == date(2026, 1, 1)
    assert clock.business_date(datetime(2026, 1, 1, 16, 0, tzinfo=UTC)) == date(2026, 1, 2)


def test_naive_datetimes_from_the_database_are_read_as_utc() -> None:
    assert clock.business_date(datetime(2026, 1, 1, 17, 0)) == date(2026, 1, 2)
    assert clock.as_utc(datetime(2026, 1, 1, 17, 0)) == datetime(2026, 1, 1, 17, 0, tzinfo=UTC)


def test_business_day_bounds_are_shanghai_midnights_in_utc() -> None:
    start, end = clock.business_day_bounds(date(2026, 1, 2))

    assert start == datetime(2026, 1, 1, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 1, 2, 16, 0, tzinfo=UTC)
    assert clock.business_date(start) == date(2026, 1, 2)
    assert clock.business_date(end - timedelta(microseconds=1)) == date(2026, 1, 2)


def test_business_day_follows_the_configured_time_zone() -> None:
    instant = datetime(2026, 1, 1, 17, 0, tzinfo=UTC)

    clock.set_business_timezone("Europe/London")

    assert clock.business_timezone() == ZoneInfo("Europe/London")
    assert clock.business_date(instant) == date(2026, 1, 1)
    assert clock.to_business(instant).hour == 17


def test_isoformat_writes_utc_with_a_z_and_parse_iso_reads_it_back() -> None:
    instant = datetime(2026, 6, 30, 23, 59, 58, tzinfo=SHANGHAI)

    text = clock.isoformat(instant)

    assert text == "2026-06-30T15:59:58Z"
    assert clock.parse_iso(text) == instant


def test_parse_iso_converts_an_offset_to_utc() -> None:
    parsed = clock.parse_iso("2026-01-02T01:00:00+08:00")

    assert parsed == datetime(2026, 1, 1, 17, 0, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)
