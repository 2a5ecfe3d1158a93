"""The business calendar: statutory holidays and 调休 from the package, firm overrides first, weekends alone for a
year the package does not know, and working time counted across lunch, evenings, weekends and holidays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar import constants as package_data
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from loanbridge.common import calendar as calendar_module
from loanbridge.common import clock, metrics
from loanbridge.common.calendar import BusinessCalendar, DayOverride, WorkingHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
WITH_LUNCH = WorkingHours(time(9, 0), time(18, 0), time(12, 0), time(13, 30))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant on the Shanghai wall clock."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def days(start: date, end: date) -> list[date]:
    """Every date from start to end, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def year_missing_metric(year: int) -> float | None:
    return REGISTRY.get_sample_value("loanbridge_calendar_year_missing", {"year": str(year)})


@pytest.fixture(autouse=True)
def _fresh_missing_year_reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees the missing-year warning and metric as a freshly started process would."""
    monkeypatch.setattr(calendar_module, "_reported_years", set())
    metrics.CALENDAR_YEAR_MISSING.clear()
    yield
    metrics.CALENDAR_YEAR_MISSING.clear()


# Statutory calendar 2026 (the package's data, which follows the State Council's notice for 2026)


def test_national_day_2026_is_october_1_to_7_with_make_up_days_september_20_and_october_10() -> None:
    calendar = BusinessCalendar()

    assert [d for d in days(date(2026, 10, 1), date(2026, 10, 12)) if not calendar.is_working_day(d)] == [
        *days(date(2026, 10, 1), date(2026, 10, 7)),
        date(2026, 10, 11),
    ]
    assert calendar.is_working_day(date(2026, 9, 20))  # a Sunday, worked for National Day
    assert calendar.is_working_day(date(2026, 10, 10))  # a Saturday, worked for National Day
    assert not any(calendar.is_working_day(d) for d in days(date(2026, 9, 25), date(2026, 9, 27)))  # Mid-autumn


def test_the_calendar_agrees_with_the_package_on_every_day_around_national_day_2026() -> None:
    calendar = BusinessCalendar()

    for day in days(date(2026, 9, 1), date(2026, 10, 31)):
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day


def test_every_2026_holiday_and_make_up_day_in_the_package_data_is_honoured() -> None:
    calendar = BusinessCalendar()
    holidays = [d for d in package_data.holidays if d.year == 2026]
    make_up_days = [d for d in package_data.workdays if d.year == 2026]

    assert date(2026, 10, 7) in holidays and date(2026, 10, 10) in make_up_days
    assert all(not calendar.is_working_day(d) for d in holidays)
    assert all(calendar.is_working_day(d) for d in make_up_days)
    assert all(d.weekday() >= 5 for d in make_up_days)


def test_spring_festival_2026_is_february_15_to_23_with_saturdays_14_and_28_worked() -> None:
    calendar = BusinessCalendar()

    assert not any(calendar.is_working_day(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert calendar.is_working_day(date(2026, 2, 14))
    assert calendar.is_working_day(date(2026, 2, 28))
    assert calendar.next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)
    assert calendar.next_working_day(date(2026, 2, 14)) == date(2026, 2, 24)
    assert calendar.add_working_days(date(2026, 2, 12), 5) == date(2026, 2, 26)


# Deadlines across National Day 2026


def test_working_days_skip_the_national_day_holiday() -> None:
    calendar = BusinessCalendar()

    assert calendar.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert calendar.previous_working_day(date(2026, 10, 8)) == date(2026, 9, 30)
    assert calendar.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert calendar.add_working_days(date(2026, 10, 10), -3) == date(2026, 9, 30)


def test_a_three_working_day_deadline_from_september_30_ends_on_the_make_up_saturday_at_closing_time() -> None:
    calendar = BusinessCalendar()

    deadline = calendar.working_days_deadline(at(2026, 9, 30, 15, 0), 3)

    assert deadline == datetime(2026, 10, 10, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    assert deadline.utcoffset() == timedelta(0)


def test_the_start_day_of_a_working_day_deadline_never_counts_whatever_the_hour() -> None:
    calendar = BusinessCalendar()

    early = calendar.working_days_deadline(at(2026, 11, 2, 8, 0), 2)
    late = calendar.working_days_deadline(at(2026, 11, 2, 17, 59), 2)

    assert early == late == at(2026, 11, 4, 18, 0)


def test_a_working_hours_sla_pauses_over_national_day_and_resumes_on_october_8() -> None:
    calendar = BusinessCalendar()

    assert calendar.add_working_hours(at(2026, 9, 30, 16, 0), 4) == at(2026, 10, 8, 11, 0)
    assert calendar.add_working_hours(at(2026, 10, 9, 17, 0), 2) == at(2026, 10, 10, 10, 0)
    assert calendar.working_time_between(at(2026, 9, 30, 9, 0), at(2026, 10, 12, 9, 0)) == timedelta(hours=36)


# A year the package does not know


def test_a_2027_deadline_counts_weekends_only_and_raises_the_missing_year_metric_without_an_exception() -> None:
    calendar = BusinessCalendar()
    assert year_missing_metric(2027) is None

    with capture_logs() as logs:
        deadline = calendar.working_days_deadline(at(2027, 1, 8, 10, 0), 3)  # a Friday
        calendar.add_working_hours(at(2027, 3, 5, 17, 0), 2)

    assert deadline == at(2027, 1, 13, 18, 0)  # Monday 11, Tuesday 12, Wednesday 13
    assert calendar.is_working_day(date(2027, 1, 1))  # a Friday: New Year 2027 is unknown to the package
    assert not calendar.is_working_day(date(2027, 1, 9))
    assert year_missing_metric(2027) == 1
    warnings = [entry for entry in logs if entry["event"] == "calendar_year_missing"]
    assert [(w["log_level"], w["year"]) for w in warnings] == [("warning", 2027)]
    assert 2027 in calendar_module.missing_years()


def test_a_known_year_raises_no_missing_year_metric() -> None:
    calendar = BusinessCalendar()

    with capture_logs() as logs:
        calendar.add_working_days(date(2026, 6, 1), 20)

    assert year_missing_metric(2026) is None
    assert logs == []
    assert calendar_module.missing_years() == frozenset()


def test_a_deadline_running_from_december_2026_into_2027_is_computed() -> None:
    calendar = BusinessCalendar()

    assert calendar.add_working_days(date(2026, 12, 31), 2) == date(2027, 1, 4)
    assert year_missing_metric(2027) == 1


# The firm's overrides


def test_a_firm_override_beats_the_statutory_calendar_both_ways() -> None:
    calendar = BusinessCalendar(
        overrides={
            date(2026, 10, 5): DayOverride(working=True, note="office open for the quarter close"),
            date(2026, 10, 10): DayOverride(working=False, note="company outing instead of the make-up day"),
        }
    )

    assert calendar.is_working_day(date(2026, 10, 5))
    assert not calendar.is_working_day(date(2026, 10, 10))
    assert calendar.next_working_day(date(2026, 9, 30)) == date(2026, 10, 5)
    assert calendar.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 9)
    assert calendar.add_working_days(date(2026, 10, 8), 2) == date(2026, 10, 12)


def test_firm_overrides_fill_in_a_year_the_package_does_not_know_without_a_warning() -> None:
    spring_festival_2027 = days(date(2027, 2, 6), date(2027, 2, 14))
    calendar = BusinessCalendar(overrides={d: DayOverride(working=False, note="春节") for d in spring_festival_2027})

    assert not calendar.is_working_day(date(2027, 2, 8))
    assert year_missing_metric(2027) is None


# Working hours: lunch, evenings, weekends


def test_working_hours_stop_for_lunch() -> None:
    calendar = BusinessCalendar(hours=WITH_LUNCH)

    assert calendar.add_working_hours(at(2026, 11, 2, 11, 0), 2) == at(2026, 11, 2, 14, 30)
    assert calendar.add_working_hours(at(2026, 11, 2, 12, 30), 1) == at(2026, 11, 2, 14, 30)
    assert calendar.add_working_hours(at(2026, 11, 2, 7, 0), 3) == at(2026, 11, 2, 12, 0)
    assert calendar.working_time_between(at(2026, 11, 2, 0, 0), at(2026, 11, 3, 0, 0)) == timedelta(hours=7.5)


def test_working_hours_carry_over_the_evening_and_the_weekend() -> None:
    calendar = BusinessCalendar(hours=WITH_LUNCH)
    friday_evening, monday_morning = at(2026, 11, 6, 17, 0), at(2026, 11, 9, 10, 0)

    assert calendar.add_working_hours(friday_evening, timedelta(hours=2)) == monday_morning
    assert calendar.add_working_hours(at(2026, 11, 7, 20, 0), 0.5) == at(2026, 11, 9, 9, 30)
    assert calendar.add_working_hours(at(2026, 11, 2, 17, 30), 8) == at(2026, 11, 3, 18, 0)
    assert calendar.working_time_between(friday_evening, monday_morning) == timedelta(hours=2)
    assert calendar.working_time_between(monday_morning, friday_evening) == -timedelta(hours=2)


def test_working_hours_are_read_in_the_business_time_zone_and_returned_in_utc() -> None:
    calendar = BusinessCalendar()

    result = calendar.add_working_hours(datetime(2026, 11, 2, 9, 30, tzinfo=UTC), 1)  # 17:30 in Shanghai
    assert result == datetime(2026, 11, 3, 1, 30, tzinfo=UTC)  # 09:30 the next morning
    assert result.utcoffset() == timedelta(0)

    clock.set_business_timezone("Europe/Berlin")
    assert calendar.add_working_hours(datetime(2026, 11, 2, 9, 30, tzinfo=UTC), 1) == datetime(
        2026, 11, 2, 10, 30, tzinfo=UTC
    )


def test_working_time_and_next_opening() -> None:
    calendar = BusinessCalendar(hours=WITH_LUNCH)

    assert calendar.is_working_time(at(2026, 11, 2, 9, 0))
    assert not calendar.is_working_time(at(2026, 11, 2, 12, 15))
    assert not calendar.is_working_time(at(2026, 11, 2, 18, 0))
    assert not calendar.is_working_time(at(2026, 10, 2, 10, 0))
    assert calendar.next_opening(at(2026, 11, 2, 12, 15)) == at(2026, 11, 2, 13, 30)
    assert calendar.next_opening(at(2026, 9, 30, 18, 0)) == at(2026, 10, 8, 9, 0)
    assert calendar.next_opening(at(2026, 11, 2, 10, 0)) == at(2026, 11, 2, 10, 0)


def test_negative_working_time_is_refused() -> None:
    with pytest.raises(ValueError):
        BusinessCalendar().add_working_hours(at(2026, 11, 2, 10, 0), -1)


# Configuration


def test_working_hours_parse_from_settings_text() -> None:
    assert WorkingHours.parse("09:00-18:00", "12:00-13:30") == WITH_LUNCH
    assert WorkingHours.parse("08:30-17:30").periods() == ((time(8, 30), time(17, 30)),)
    assert WITH_LUNCH.periods() == ((time(9, 0), time(12, 0)), (time(13, 30), time(18, 0)))


@pytest.mark.parametrize(
    ("hours", "lunch"),
    [("18:00-09:00", ""), ("09:00-18:00", "12:00-19:00"), ("09:00-18:00", "13:30-12:00"), ("9am-6pm", "")],
)
def test_impossible_working_hours_are_refused(hours: str, lunch: str) -> None:
    with pytest.raises(ValueError):
        WorkingHours.parse(hours, lunch)


def test_an_installed_calendar_is_the_process_calendar_for_the_block_only() -> None:
    firm = BusinessCalendar(overrides={date(2026, 10, 5): DayOverride(working=True)})
    default = calendar_module.current()

    with calendar_module.use_calendar(firm):
        assert calendar_module.current() is firm
        assert calendar_module.current().is_working_day(date(2026, 10, 5))

    assert calendar_module.current() is default
    assert not default.is_working_day(date(2026, 10, 5))
