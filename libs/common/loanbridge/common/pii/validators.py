"""Validators for mainland mobiles and resident ID numbers (GB 11643), with their normal forms.

Each returns the normalised value or raises ``ValueError`` with a zh-CN reason that names no value.
"""

from __future__ import annotations

import re
from datetime import date

from loanbridge.common import clock

MOBILE_PATTERN = re.compile(r"^1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH = date(1900, 1, 1)


def normalise_mobile(raw: str) -> str:
    """A mainland mobile as 11 digits: spaces and dashes dropped, a +86 / 0086 prefix removed."""
    value = re.sub(r"[\s-]", "", raw or "")
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    if not MOBILE_PATTERN.match(value):
        raise ValueError("手机号格式不正确,应为 11 位中国大陆手机号")
    return value


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def id_birth_date(id_number: str) -> date:
    """The birth date an 18-character ID number carries."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def normalise_id_number(raw: str, *, today: date | None = None) -> str:
    """An 18-character resident ID number, upper-case X, checked for shape, birth date and check character."""
    value = (raw or "").strip().upper()
    if len(value) == 15:
        raise ValueError("不支持 15 位旧身份证号,请提供 18 位身份证号")
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValueError("身份证号应为 18 位,前 17 位为数字,末位为数字或 X")
    try:
        born = id_birth_date(value)
    except ValueError as exc:
        raise ValueError("身份证号中的出生日期不存在") from exc
    if not EARLIEST_BIRTH <= born <= (today or clock.business_date(clock.now())):
        raise ValueError("身份证号中的出生日期不合理")
    if id_check_char(value[:17]) != value[17]:
        raise ValueError("身份证号校验位不正确")
    return value
