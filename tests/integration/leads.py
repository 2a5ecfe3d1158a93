"""Synthetic leads with valid, unique mobiles and ID numbers (fixed seeds, so runs are repeatable).

The numbers come from ``loanbridge.common.testing.synthetic``, which load generators use too."""

from __future__ import annotations

import random
from typing import Any

from loanbridge.common.testing.synthetic import SHANDONG_DISTRICTS, id_number, mobile
from loanbridge.intake.domain.leads import SHANDONG_CITIES

__all__ = ["SHANDONG_DISTRICTS", "id_number", "lead", "mobile"]


def lead(rng: random.Random, *, external_ref: str | None = None, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": rng.choice("张王李赵刘陈杨黄") + rng.choice(["伟", "芳", "娜", "敏", "静", "强"]),
        "mobile": mobile(rng),
        "id_number": id_number(rng),
        "city": rng.choice(SHANDONG_CITIES),
        "product": rng.choice(["house", "credit", "car"]),
        "amount": rng.choice([50_000, 120_000, 300_000, 800_000]),
        "term_months": rng.choice([12, 24, 36, 60]),
        "purpose": "经营周转",
    }
    if external_ref:
        body["external_ref"] = external_ref
    return {**body, **overrides}
