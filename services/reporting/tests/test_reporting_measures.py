"""Unit tests of the KPIs' arithmetic (domain/measures.py): plain values, no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from loanbridge.reporting.domain import measures as m


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values() -> None:
    assert m.median([24, 71]) == 47.5
    assert m.median([30, 22, 24]) == 24
    assert m.median([]) is None


def test_p90_is_the_nearest_rank_value() -> None:
    # ceil(0.9 * 10) = rank 9; ceil(0.9 * 3) = rank 3.
    assert m.percentile(list(range(1, 11)), 90) == 9
    assert m.percentile([22, 24, 30], 90) == 30
    assert m.percentile([5], 90) == 5
    assert m.percentile([], 90) is None


def test_a_rate_with_nothing_to_divide_by_is_none_and_rates_have_four_decimals() -> None:
    assert m.ratio(2, 3) == 0.6667
    assert m.ratio(0, 0) is None
    assert m.per(Decimal("31000"), 3) == 10333.33


def test_spend_of_a_range_takes_each_month_by_the_share_of_its_days_inside() -> None:
    monthly = {"2026-02": Decimal("28000"), "2026-03": Decimal("31000")}

    # 15-28 February is 14 of 28 days (14000), 1-10 March 10 of 31 (10000).
    assert m.spend_in_range(monthly, date(2026, 2, 15), date(2026, 3, 10)) == Decimal("24000")
    assert m.spend_in_range(monthly, date(2026, 4, 1), date(2026, 4, 30)) == 0


def test_months_between_cross_a_year_end() -> None:
    assert m.months_between(date(2025, 11, 30), date(2026, 2, 1)) == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_weeks_start_on_monday() -> None:
    assert m.week_start(date(2026, 3, 8)) == date(2026, 3, 2)  # a Sunday
    assert m.week_start(date(2026, 3, 9)) == date(2026, 3, 9)
