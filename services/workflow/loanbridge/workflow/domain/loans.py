"""Loans after disbursement: repayment schedules, days past due and outstanding principal.

Money is ``Decimal`` in yuan, rounded to the fen (0.01) half up. The annual rate is a fraction (0.12 for 12 %), the
monthly rate is a twelfth of it. Interest of each installment is the balance times the monthly rate, rounded to
the fen; the last installment takes whatever principal remains, so principals always sum to the loan exactly.

- 等额本息 (``equal_installment``): one payment P·r·(1+r)^n / ((1+r)^n − 1) each month; interest first.
- 等额本金 (``equal_principal``): the same principal P/n each month, interest on the falling balance.
- ``explicit``: a schedule the lender gave, checked (dates increasing, principals summing to the loan).

Due dates fall monthly on the first due date's day of month, clamped to the month's end (31 Jan → 28/29 Feb →
31 Mar).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from loanbridge.common import clock
from loanbridge.common.errors import InvalidInput

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
MONTHS_PER_YEAR = 12


class InvalidLoan(InvalidInput, ValueError):
    """Loan terms or a repayment schedule that cannot be right; ``code`` names the problem, details the field."""

    code = "invalid_loan"
    message = "贷款信息有误"


class RepaymentMethod(StrEnum):
    """How a loan is repaid."""

    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    EXPLICIT = "explicit"


@dataclass(frozen=True)
class Installment:
    """One line of a repayment schedule; ``amount`` is principal plus interest."""

    installment: int
    due_date: date
    principal: Decimal
    interest: Decimal
    amount: Decimal = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", self.principal + self.interest)


def to_fen(value: Decimal) -> Decimal:
    """A sum of money rounded to the fen, half up."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def monthly_due_dates(first_due_date: date, term_months: int) -> list[date]:
    """``term_months`` monthly due dates on the first one's day of month, clamped to the end of shorter months."""
    _check_term(term_months)
    return [_add_months(first_due_date, offset) for offset in range(term_months)]


def equal_installment_payment(principal: Decimal, annual_rate: Decimal, term_months: int) -> Decimal:
    """The monthly payment of 等额本息, rounded to the fen."""
    _check_terms(principal, annual_rate, term_months)
    rate = annual_rate / MONTHS_PER_YEAR
    if rate == 0:
        return to_fen(principal / term_months)
    growth = (1 + rate) ** term_months
    return to_fen(principal * rate * growth / (growth - 1))


def equal_installment_schedule(
    *, principal: Decimal, annual_rate: Decimal, term_months: int, first_due_date: date
) -> list[Installment]:
    """The 等额本息 schedule: equal payments, the last one adjusted so principals sum to the loan."""
    payment = equal_installment_payment(principal, annual_rate, term_months)
    rate = annual_rate / MONTHS_PER_YEAR
    balance = principal
    schedule = []
    for number, due_date in enumerate(monthly_due_dates(first_due_date, term_months), start=1):
        interest = to_fen(balance * rate)
        part = balance if number == term_months else payment - interest
        schedule.append(Installment(number, due_date, part, interest))
        balance -= part
    return schedule


def equal_principal_schedule(
    *, principal: Decimal, annual_rate: Decimal, term_months: int, first_due_date: date
) -> list[Installment]:
    """The 等额本金 schedule: equal principals, interest on the remaining balance, the last principal adjusted."""
    _check_terms(principal, annual_rate, term_months)
    rate = annual_rate / MONTHS_PER_YEAR
    share = to_fen(principal / term_months)
    balance = principal
    schedule = []
    for number, due_date in enumerate(monthly_due_dates(first_due_date, term_months), start=1):
        part = balance if number == term_months else share
        schedule.append(Installment(number, due_date, part, to_fen(balance * rate)))
        balance -= part
    return schedule


def explicit_schedule(*, principal: Decimal, lines: Sequence[tuple[date, Decimal, Decimal]]) -> list[Installment]:
    """A caller's schedule of (due_date, principal, interest) lines, checked and numbered from 1."""
    _check_principal(principal)
    if not lines:
        raise _invalid("schedule_empty", "schedule", "还款计划不能为空")
    schedule = [Installment(number, *line) for number, line in enumerate(lines, start=1)]
    for line in schedule:
        _check_line(line)
    for earlier, later in itertools.pairwise(schedule):
        if later.due_date <= earlier.due_date:
            raise _invalid(
                "schedule_dates_not_increasing", f"schedule[{later.installment}].due_date", "还款日期必须逐期递增"
            )
    total = sum((line.principal for line in schedule), ZERO)
    if total != principal:
        raise _invalid("schedule_principal_mismatch", "schedule", f"各期本金合计 {total} 与贷款本金 {principal} 不符")
    return schedule


SCHEDULE_BUILDERS: dict[RepaymentMethod, Callable[..., list[Installment]]] = {
    RepaymentMethod.EQUAL_INSTALLMENT: equal_installment_schedule,
    RepaymentMethod.EQUAL_PRINCIPAL: equal_principal_schedule,
}


def days_past_due(due_date: date, *, now: datetime) -> int:
    """Whole business days since a due date (0 on the due date itself and before it)."""
    return max(0, (clock.business_date(now) - due_date).days)


def outstanding_principal(schedule: Sequence[Installment], paid: Collection[int]) -> Decimal:
    """Principal still owed once the installments numbered in ``paid`` are repaid."""
    return sum((line.principal for line in schedule if line.installment not in paid), ZERO)


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // MONTHS_PER_YEAR, month_index % MONTHS_PER_YEAR + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _check_terms(principal: Decimal, annual_rate: Decimal, term_months: int) -> None:
    _check_principal(principal)
    _check_term(term_months)
    if not ZERO <= annual_rate < 1:
        raise _invalid("annual_rate_out_of_range", "annual_rate", "年利率应为小数,如 0.12 表示 12%")


def _check_principal(principal: Decimal) -> None:
    if principal <= 0 or to_fen(principal) != principal:
        raise _invalid("principal_invalid", "principal", "本金须大于零且精确到分")


def _check_term(term_months: int) -> None:
    if term_months < 1:
        raise _invalid("term_invalid", "term_months", "期数至少为 1")


def _check_line(line: Installment) -> None:
    for name in ("principal", "interest"):
        value: Decimal = getattr(line, name)
        if value < 0 or to_fen(value) != value:
            raise _invalid(
                "schedule_amount_invalid", f"schedule[{line.installment}].{name}", "金额不能为负且须精确到分"
            )


def _invalid(code: str, field_name: str, reason: str) -> InvalidLoan:
    return InvalidLoan(reason, code=code, details={"fields": {field_name: [reason]}})
