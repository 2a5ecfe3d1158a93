"""Synthetic leads with valid, unique mobiles and ID numbers (fixed seeds, so runs are repeatable)."""

from __future__ import annotations

import random
from typing import Any

from loanbridge.common.pii.validators import id_check_char
from loanbridge.intake.domain.leads import SHANDONG_CITIES

SHANDONG_DISTRICTS = ("370102", "370202", "370302", "370402", "370502", "370602", "370702", "370802",
                      "370902", "371002", "371102", "371302", "371402", "371502", "371602", "371702")  # fmt: skip


def mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "186", "158", "177"]) + f"{rng.randrange(10**8):08d}"


def id_number(rng: random.Random) -> str:
    first17 = (
        f"{rng.choice(SHANDONG_DISTRICTS)}{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    )
    first17 += f"{rng.randrange(1000):03d}"
    return first17 + id_check_char(first17)


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
