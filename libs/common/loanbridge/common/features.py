"""The risk feature dictionary (ARCHITECTURE.md §4): the names intake sends and risk rules read.

Values are plain numbers, booleans or short codes; ratios are decimals (0.7 is 70%). A product form may add
fields marked ``x-risk-feature``; these are the ones every part of the suite knows.
"""

from __future__ import annotations

FEATURES: dict[str, str] = {
    "credit_inquiries_3m": "征信查询次数(近3个月)",
    "overdue_count_24m": "逾期次数(近24个月)",
    "monthly_income": "月收入(元)",
    "monthly_debt_payment": "月还款额(元)",
    "debt_ratio": "负债率(小数,0.7 即 70%)",
    "social_security_months": "社保缴纳月数",
    "employer_type": "单位性质",
    "property_valuation": "房产估值(元)",
    "existing_mortgage_balance": "现有抵押余额(元)",
    "vehicle_valuation": "车辆估值(元)",
    "vehicle_age_years": "车龄(年)",
    "ltv": "抵押率(小数)",
    "age": "年龄",
    "blacklisted": "是否在黑名单",
    "intent_level": "意向等级",
}
