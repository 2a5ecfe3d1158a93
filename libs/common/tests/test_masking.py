"""Masked forms of personal data in answers and events: 138****1234, 3701**********1234, 张*."""

from __future__ import annotations

import random

import pytest

from loanbridge.common.pii.masking import mask_id_number, mask_mobile, mask_name


def test_mobile_keeps_the_first_three_and_last_four_digits() -> None:
    assert mask_mobile("13812341234") == "138****1234"


def test_id_number_keeps_the_region_prefix_and_last_four_characters() -> None:
    assert mask_id_number("370102199001011234") == "3701**********1234"
    assert mask_id_number("11010519491231002X") == "1101**********002X"


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("欧阳娜娜", "欧***"), ("张", "张*"), (" 李四 ", "李*"), ("", ""), ("   ", "")],
)
def test_name_keeps_only_the_first_character(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_single_character_name_is_not_shown_whole() -> None:
    assert mask_name("王") != "王"


@pytest.mark.parametrize("value", ["1", "123456", "1234567", "12345678", "1234567890"])
def test_mobile_of_any_length_is_never_shown_whole(value: str) -> None:
    masked = mask_mobile(value)

    assert len(masked) == len(value)
    assert masked != value
    assert "*" in masked


@pytest.mark.parametrize("value", ["1", "3701021", "37010219", "370102199"])
def test_id_number_of_any_length_is_never_shown_whole(value: str) -> None:
    masked = mask_id_number(value)

    assert len(masked) == len(value)
    assert masked != value


def test_masked_mobiles_never_show_the_middle_digits() -> None:
    rng = random.Random(138)
    for _ in range(500):
        mobile = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"

        masked = mask_mobile(mobile)

        assert len(masked) == len(mobile)
        assert masked[3:7] == "****"
        assert masked[:3] == mobile[:3] and masked[-4:] == mobile[-4:]
