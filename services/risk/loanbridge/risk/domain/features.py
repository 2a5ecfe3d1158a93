"""The fields a rule set may read: the suite's feature dictionary, a product's own ``x-risk-feature`` fields,
and what every application carries (amount, term, documents) or the model derives on the way (score)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from loanbridge.common.features import FEATURES

APPLICATION_FIELDS: dict[str, str] = {
    "product": "产品",
    "amount": "申请金额(元)",
    "term_months": "期限(月)",
    "channel": "渠道",
    "city": "城市",
    "documents": "已上传材料类型",
    "required_documents": "必备材料类型",
    "missing_documents": "缺少的材料",
    "missing_fields": "缺少的字段",
}
DERIVED_FIELDS: dict[str, str] = {"score": "综合评分", "scorecard": "评分项", "grade": "等级", "hits": "命中规则"}

# A complete, plausible application: the compile check evaluates every model against it (and against all-null).
SAMPLE_VALUES: dict[str, Any] = {
    "product": "house",
    "amount": 300000,
    "term_months": 24,
    "channel": "douyin",
    "city": "济南",
    "documents": ["id_card", "credit_report"],
    "required_documents": ["id_card", "credit_report", "bank_statement"],
    "missing_fields": [],
    "credit_inquiries_3m": 3,
    "overdue_count_24m": 1,
    "monthly_income": 12000,
    "monthly_debt_payment": 4000,
    "debt_ratio": 0.33,
    "social_security_months": 36,
    "employer_type": "private",
    "property_valuation": 1500000,
    "existing_mortgage_balance": 200000,
    "vehicle_valuation": 200000,
    "vehicle_age_years": 3,
    "ltv": 0.5,
    "age": 35,
    "blacklisted": False,
    "intent_level": "B",
}
SAMPLE_BY_TYPE: dict[str, Any] = {"number": 1, "integer": 1, "string": "x", "boolean": False, "array": []}


def known_fields(product_features: Iterable[str] = ()) -> frozenset[str]:
    """Every field name a rule set of a product may read or derive."""
    return frozenset(FEATURES) | frozenset(APPLICATION_FIELDS) | frozenset(DERIVED_FIELDS) | frozenset(product_features)


def sample_application(product_features: Mapping[str, str]) -> dict[str, Any]:
    """A complete application for the compile check: the dictionary's samples plus one per product feature."""
    extra = {name: SAMPLE_BY_TYPE.get(kind, 1) for name, kind in product_features.items() if name not in SAMPLE_VALUES}
    return {**SAMPLE_VALUES, **extra}


def null_application(product_features: Iterable[str]) -> dict[str, Any]:
    """The same application with nothing known: every guard in the model must hold."""
    return {name: None for name in (*SAMPLE_VALUES, *product_features)}
