"""Leads: the cities and products they may name, and the duplicate outcome a submitter is told."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from loanbridge.common.features import FEATURES

SHANDONG_CITIES = (
    "济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁",
    "泰安", "威海", "日照", "临沂", "德州", "聊城", "滨州", "菏泽",
)  # fmt: skip

DEFAULT_PRODUCTS = {"house": "房抵贷", "credit": "信抵贷", "car": "车抵贷"}


class DuplicateOutcome(enum.StrEnum):
    """What the submitter is told about the person, as best known from workflow's events at that moment."""

    NEW_CUSTOMER = "new_customer"
    POOL_CUSTOMER = "pool_customer"
    OWN_CUSTOMER = "own_customer"
    OWNED_BY_OTHER = "owned_by_other"


def duplicate_outcome(*, customer_is_new: bool, owner_id: str | None, submitter_id: str) -> DuplicateOutcome:
    """A new person; a known one nobody owns (public pool); one the submitter owns; one someone else owns."""
    if customer_is_new:
        return DuplicateOutcome.NEW_CUSTOMER
    if owner_id is None:
        return DuplicateOutcome.POOL_CUSTOMER
    if owner_id == submitter_id:
        return DuplicateOutcome.OWN_CUSTOMER
    return DuplicateOutcome.OWNED_BY_OTHER


def risk_features(form: dict[str, Any]) -> dict[str, Any]:
    """The form values risk may see: those named in the feature dictionary, nothing personal."""
    return {name: value for name, value in form.items() if name in FEATURES}


def money(amount: Decimal) -> int | float:
    """An amount as a JSON number: whole yuan as an integer, else to the fen."""
    return int(amount) if amount == amount.to_integral_value() else float(round(amount, 2))
