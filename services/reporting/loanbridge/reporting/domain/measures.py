"""The arithmetic of the KPIs, as docs/reporting.md defines it: rates, percentiles, spend over a range of days,
weeks, vintages and overdue buckets. Plain Python."""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

# Overdue buckets by days past due: M1+ is past 30 days (into the second month), M3+ past 90 (bad debt).
M1_PLUS_DAYS = 31
M3_PLUS_DAYS = 91

# The default lifecycle's stages in funnel order, with the names staff know them by.
STAGES: tuple[tuple[str, str], ...] = (
    ("new", "新线索"),
    ("assigned", "已分配"),
    ("pre_review", "资质初审"),
    ("plan_matching", "方案匹配"),
    ("risk_review", "风控复审"),
    ("contract", "合同签署"),
    ("disbursed", "已放款"),
    ("post_loan", "贷后跟踪"),
    ("settled", "已结清"),
    ("rejected", "已拒绝"),
    ("lender_declined", "机构拒绝"),
    ("lost", "已流失"),
)
STAGE_NAMES = dict(STAGES)
TASK_KINDS = {
    "first_contact": "首次联系",
    "followup": "跟进",
    "supplement": "补充材料",
    "review": "风控复核",
    "reloan_followup": "续贷回访",
}
STAGE_ORDER = {key: index for index, (key, _) in enumerate(STAGES)}


def ratio(numerator: float | int | Decimal, denominator: float | int | Decimal) -> float | None:
    """numerator / denominator to 4 decimals; None when there is nothing to divide by."""
    if not denominator:
        return None
    return round(float(numerator) / float(denominator), 4)


def money(value: float | int | Decimal | None) -> float:
    """Yuan to the fen (half up)."""
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def per(amount: float | int | Decimal, count: int) -> float | None:
    """An amount per item, to the fen; None when there are no items."""
    if not count:
        return None
    return money(Decimal(str(amount)) / count)


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the value at rank ceil(p/100 * n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(start: date, end: date) -> list[str]:
    """The months ``start``..``end`` touch, as YYYY-MM."""
    months, cursor = [], date(start.year, start.month, 1)
    while cursor <= end:
        months.append(month_key(cursor))
        cursor = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
    return months


def spend_in_range(monthly: dict[str, Decimal], start: date, end: date) -> Decimal:
    """A channel's spend over business days ``start``..``end``: each month's spend times the share of its days
    inside the range."""
    total = Decimal("0")
    for month in months_between(start, end):
        amount = monthly.get(month)
        if not amount:
            continue
        year, number = int(month[:4]), int(month[5:])
        days = calendar.monthrange(year, number)[1]
        first, last = date(year, number, 1), date(year, number, days)
        inside = (min(end, last) - max(start, first)).days + 1
        total += Decimal(amount) * inside / days
    return total


def week_start(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def hours_between(start: object, end: object) -> float:
    """Hours from one instant to another."""
    return (end - start).total_seconds() / 3600  # type: ignore[operator]
