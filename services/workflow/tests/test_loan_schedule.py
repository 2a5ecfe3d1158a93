"""Repayment schedules: 等额本息 against the annuity formula to the fen, 等额本金, month-end due dates, explicit
schedules checked, days past due in the business time zone and outstanding principal."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from loanbridge.workflow.domain.loans import (
    SCHEDULE_BUILDERS,
    InvalidLoan,
    RepaymentMethod,
    days_past_due,
    equal_installment_payment,
    equal_installment_schedule,
    equal_principal_schedule,
    explicit_schedule,
    monthly_due_dates,
    outstanding_principal,
)

D = Decimal


def fen_half_up(value: Fraction) -> Decimal:
    """An exact rational rounded to the fen, half up (the amounts here are positive)."""
    return D(math.floor(value * 100 + Fraction(1, 2))) / 100


def annuity_by_formula(principal: Fraction, annual_rate: Fraction, months: int) -> list[tuple[Decimal, Decimal]]:
    """(principal, interest) per month in exact rational arithmetic, rounded to the fen only where the rule says."""
    rate = annual_rate / 12
    growth = (1 + rate) ** months
    payment = Fraction(fen_half_up(principal * rate * growth / (growth - 1)))
    balance, lines = principal, []
    for month in range(1, months + 1):
        interest = Fraction(fen_half_up(balance * rate))
        part = balance if month == months else payment - interest
        lines.append((D(part.numerator) / D(part.denominator), D(interest.numerator) / D(interest.denominator)))
        balance -= part
    return lines


def test_equal_installment_loan_of_100000_over_12_months_at_12_percent_matches_the_formula_to_the_fen() -> None:
    schedule = equal_installment_schedule(
        principal=D("100000.00"), annual_rate=D("0.12"), term_months=12, first_due_date=date(2026, 1, 15)
    )

    assert equal_installment_payment(D("100000.00"), D("0.12"), 12) == D("8884.88")
    assert round(100000 * 0.01 * 1.01**12 / (1.01**12 - 1), 2) == 8884.88
    assert [(line.principal, line.interest) for line in schedule] == annuity_by_formula(
        Fraction(100000), Fraction("0.12"), 12
    )
    assert (schedule[0].principal, schedule[0].interest, schedule[0].amount) == (
        D("7884.88"),
        D("1000.00"),
        D("8884.88"),
    )
    assert (schedule[1].principal, schedule[1].interest) == (D("7963.73"), D("921.15"))
    assert all(line.amount == D("8884.88") for line in schedule[:-1])
    assert sum(line.principal for line in schedule) == D("100000.00")
    assert [line.installment for line in schedule] == list(range(1, 13))
    assert schedule[-1].due_date == date(2026, 12, 15)


def test_the_last_equal_installment_absorbs_the_rounding_so_principals_sum_exactly() -> None:
    schedule = equal_installment_schedule(
        principal=D("33333.33"), annual_rate=D("0.0735"), term_months=7, first_due_date=date(2026, 3, 1)
    )

    expected = annuity_by_formula(Fraction("33333.33"), Fraction("0.0735"), 7)
    assert [(line.principal, line.interest) for line in schedule] == expected
    assert sum(line.principal for line in schedule) == D("33333.33")


def test_equal_principal_loan_repays_the_same_principal_with_falling_interest() -> None:
    schedule = equal_principal_schedule(
        principal=D("120000.00"), annual_rate=D("0.12"), term_months=12, first_due_date=date(2026, 1, 10)
    )

    assert {line.principal for line in schedule} == {D("10000.00")}
    assert [line.interest for line in schedule] == [D(100 * k) for k in range(12, 0, -1)]
    assert schedule[0].amount == D("11200.00")
    assert sum(line.interest for line in schedule) == D("7800.00")


def test_equal_principal_puts_the_rounding_remainder_in_the_last_installment() -> None:
    schedule = equal_principal_schedule(
        principal=D("100000.00"), annual_rate=D("0.09"), term_months=3, first_due_date=date(2026, 1, 10)
    )

    assert [line.principal for line in schedule] == [D("33333.33"), D("33333.33"), D("33333.34")]
    assert [line.interest for line in schedule] == [D("750.00"), D("500.00"), D("250.00")]
    assert sum(line.principal for line in schedule) == D("100000.00")


def test_interest_is_rounded_half_up_to_the_fen() -> None:
    schedule = equal_principal_schedule(
        principal=D("1000.50"), annual_rate=D("0.12"), term_months=1, first_due_date=date(2026, 1, 10)
    )

    assert schedule[0].interest == D("10.01")  # 1000.50 × 1 % = 10.005
    assert schedule[0].amount == D("1010.51")


def test_a_zero_rate_loan_splits_the_principal_without_interest() -> None:
    schedule = equal_installment_schedule(
        principal=D("1000.00"), annual_rate=D("0"), term_months=3, first_due_date=date(2026, 1, 10)
    )

    assert [line.principal for line in schedule] == [D("333.33"), D("333.33"), D("333.34")]
    assert {line.interest for line in schedule} == {D("0.00")}


def test_due_dates_keep_the_day_of_month_and_clamp_to_the_month_end() -> None:
    assert monthly_due_dates(date(2026, 1, 31), 4) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert monthly_due_dates(date(2028, 1, 31), 2) == [date(2028, 1, 31), date(2028, 2, 29)]
    assert monthly_due_dates(date(2026, 11, 30), 4) == [
        date(2026, 11, 30),
        date(2026, 12, 30),
        date(2027, 1, 30),
        date(2027, 2, 28),
    ]


def test_schedules_are_built_by_repayment_method() -> None:
    terms = {"principal": D("5000.00"), "annual_rate": D("0.10"), "term_months": 6, "first_due_date": date(2026, 5, 31)}

    for method in (RepaymentMethod.EQUAL_INSTALLMENT, RepaymentMethod.EQUAL_PRINCIPAL):
        schedule = SCHEDULE_BUILDERS[method](**terms)
        assert sum(line.principal for line in schedule) == D("5000.00")
        assert schedule[1].due_date == date(2026, 6, 30)


def test_an_explicit_schedule_is_numbered_and_kept() -> None:
    schedule = explicit_schedule(
        principal=D("10000.00"),
        lines=[
            (date(2026, 2, 1), D("0.00"), D("100.00")),
            (date(2026, 3, 1), D("10000.00"), D("100.00")),
        ],
    )

    assert [(line.installment, line.amount) for line in schedule] == [(1, D("100.00")), (2, D("10100.00"))]


@pytest.mark.parametrize(
    ("lines", "code", "field"),
    [
        (
            [(date(2026, 3, 1), D("5000.00"), D("50.00")), (date(2026, 3, 1), D("5000.00"), D("50.00"))],
            "schedule_dates_not_increasing",
            "schedule[2].due_date",
        ),
        (
            [(date(2026, 3, 1), D("5000.00"), D("50.00")), (date(2026, 4, 1), D("4999.99"), D("50.00"))],
            "schedule_principal_mismatch",
            "schedule",
        ),
        (
            [(date(2026, 3, 1), D("10000.00"), D("-1.00"))],
            "schedule_amount_invalid",
            "schedule[1].interest",
        ),
        (
            [(date(2026, 3, 1), D("10000.005"), D("0.00"))],
            "schedule_amount_invalid",
            "schedule[1].principal",
        ),
        ([], "schedule_empty", "schedule"),
    ],
)
def test_a_bad_explicit_schedule_is_refused_naming_the_problem(
    lines: list[tuple[date, Decimal, Decimal]], code: str, field: str
) -> None:
    with pytest.raises(ValueError) as refused:
        explicit_schedule(principal=D("10000.00"), lines=lines)

    error = refused.value
    assert isinstance(error, InvalidLoan)
    assert error.code == code
    assert error.status == 422
    assert list(error.details["fields"]) == [field]


@pytest.mark.parametrize(
    ("principal", "annual_rate", "term_months", "field"),
    [
        (D("0"), D("0.12"), 12, "principal"),
        (D("100.001"), D("0.12"), 12, "principal"),
        (D("100000.00"), D("12"), 12, "annual_rate"),
        (D("100000.00"), D("-0.01"), 12, "annual_rate"),
        (D("100000.00"), D("0.12"), 0, "term_months"),
    ],
)
def test_impossible_loan_terms_are_refused(
    principal: Decimal, annual_rate: Decimal, term_months: int, field: str
) -> None:
    with pytest.raises(InvalidLoan) as refused:
        equal_installment_schedule(
            principal=principal, annual_rate=annual_rate, term_months=term_months, first_due_date=date(2026, 1, 1)
        )

    assert list(refused.value.details["fields"]) == [field]


def test_days_past_due_count_business_dates_in_shanghai() -> None:
    due = date(2026, 11, 10)

    assert days_past_due(due, now=datetime(2026, 11, 10, 15, 59, tzinfo=UTC)) == 0  # 23:59 on the due date
    assert days_past_due(due, now=datetime(2026, 11, 10, 16, 0, tzinfo=UTC)) == 1  # 00:00 the day after
    assert days_past_due(due, now=datetime(2026, 11, 13, 2, 0, tzinfo=UTC)) == 3
    assert days_past_due(due, now=datetime(2026, 11, 1, 2, 0, tzinfo=UTC)) == 0


def test_outstanding_principal_leaves_out_the_paid_installments() -> None:
    schedule = equal_installment_schedule(
        principal=D("100000.00"), annual_rate=D("0.12"), term_months=12, first_due_date=date(2026, 1, 15)
    )

    assert outstanding_principal(schedule, set()) == D("100000.00")
    assert outstanding_principal(schedule, {1, 2}) == D("84151.39")
    assert outstanding_principal(schedule, set(range(1, 13))) == D("0.00")
