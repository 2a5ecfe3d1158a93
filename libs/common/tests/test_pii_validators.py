"""Mainland mobiles and resident ID numbers (GB 11643): normal forms, and refusals that name no value."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.pii.validators import (
    ID_CHECK_CHARS,
    id_birth_date,
    id_check_char,
    normalise_id_number,
    normalise_mobile,
)

TODAY = date(2026, 11, 28)


def id_number(region: str, born: str, serial: str) -> str:
    """A well-formed ID number with its correct check character."""
    first17 = region + born + serial
    return first17 + id_check_char(first17)


def random_id_numbers(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    numbers = []
    for _ in range(count):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange((date(2008, 12, 31) - date(1940, 1, 1)).days))
        region = rng.choice(["370102", "370211", "370781", "110105", "440305", "310115"])
        numbers.append(id_number(region, born.strftime("%Y%m%d"), f"{rng.randrange(1000):03d}"))
    return numbers


# --- mobiles ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812341234",
        "138 1234 1234",
        "138-1234-1234",
        "+8613812341234",
        "+86 138 1234 1234",
        "008613812341234",
        " 13812341234\t",
        "138\u30001234\u30001234",  # full-width spaces typed with a Chinese input method
    ],
)
def test_mobile_is_normalised_to_eleven_digits(raw: str) -> None:
    assert normalise_mobile(raw) == "13812341234"


@pytest.mark.parametrize(
    "mobile", ["13012345678", "14512345678", "15012345678", "16612345678", "17712345678", "18912345678", "19912345678"]
)
def test_mobiles_of_every_mainland_block_are_accepted(mobile: str) -> None:
    assert normalise_mobile(mobile) == mobile


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1381234123",  # ten digits
        "138123412345",  # twelve digits
        "12812341234",  # no 12x block
        "10012341234",
        "14412341234",  # 144 is not assigned to mobiles
        "23812341234",
        "1381234123a",
        "+85213812341234",  # Hong Kong prefix
        "02112345678",  # a landline
    ],
)
def test_mobile_outside_the_mainland_plan_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(ValueError) as raised:
        normalise_mobile(raw)

    message = str(raised.value)
    assert "手机号" in message
    assert not raw or raw not in message


# --- ID numbers ---------------------------------------------------------------------------------------------------


def test_check_character_follows_iso_7064_mod_11_2() -> None:
    # The worked example of GB 11643-1999: 11010519491231002X.
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"


def test_valid_id_numbers_are_accepted_as_they_are() -> None:
    for number in random_id_numbers(seed=11643, count=300):
        assert normalise_id_number(number, today=TODAY) == number


def test_lower_case_x_and_surrounding_spaces_are_normalised() -> None:
    assert normalise_id_number(" 11010519491231002x ", today=TODAY) == "11010519491231002X"


def test_birth_date_is_read_from_positions_7_to_14() -> None:
    assert id_birth_date("11010519491231002X") == date(1949, 12, 31)


def test_wrong_check_character_is_refused() -> None:
    rng = random.Random(7)
    for number in random_id_numbers(seed=7, count=50):
        wrong = rng.choice([char for char in ID_CHECK_CHARS if char != number[-1]])

        with pytest.raises(ValueError, match="校验位"):
            normalise_id_number(number[:17] + wrong, today=TODAY)


@pytest.mark.parametrize("born", ["19990230", "20011301", "19900000", "19000229", "20230229", "19850431"])
def test_id_number_with_a_birth_date_that_does_not_exist_is_refused(born: str) -> None:
    with pytest.raises(ValueError, match="出生日期不存在"):
        normalise_id_number(id_number("370102", born, "123"), today=TODAY)


def test_leap_day_birth_date_is_accepted() -> None:
    number = id_number("370102", "20000229", "123")

    assert normalise_id_number(number, today=TODAY) == number


@pytest.mark.parametrize("born", ["18991231", "20261129", "20300101"])
def test_id_number_born_before_1900_or_in_the_future_is_refused(born: str) -> None:
    with pytest.raises(ValueError, match="出生日期不合理"):
        normalise_id_number(id_number("370102", born, "123"), today=TODAY)


def test_id_number_born_today_is_accepted() -> None:
    number = id_number("370102", TODAY.strftime("%Y%m%d"), "123")

    assert normalise_id_number(number, today=TODAY) == number


def test_future_birth_dates_are_judged_by_the_business_clock() -> None:
    born_2028 = id_number("370102", "20280301", "123")

    with use_clock(FixedClock(datetime(2030, 1, 1, tzinfo=UTC))):
        assert normalise_id_number(born_2028) == born_2028
    with use_clock(FixedClock(datetime(2028, 2, 29, 16, 0, tzinfo=UTC))):  # 2028-03-01 00:00 in Shanghai
        assert normalise_id_number(born_2028) == born_2028
    with use_clock(FixedClock(datetime(2028, 2, 29, 15, 0, tzinfo=UTC))), pytest.raises(ValueError):
        normalise_id_number(born_2028)


def test_fifteen_digit_id_number_is_refused_asking_for_eighteen() -> None:
    with pytest.raises(ValueError, match="15 位") as raised:
        normalise_id_number("370102900101123", today=TODAY)

    assert "370102900101123" not in str(raised.value)


@pytest.mark.parametrize(
    "raw", ["", "37010219900101123", "3701021990010112345", "37010219900101123Y", "3701021990O101123X", "x" * 18]
)
def test_id_number_of_the_wrong_shape_is_refused_without_echoing_it(raw: str) -> None:
    with pytest.raises(ValueError, match="18 位") as raised:
        normalise_id_number(raw, today=TODAY)

    assert not raw or raw not in str(raised.value)
