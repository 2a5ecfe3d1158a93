"""Cursor pagination: a cursor names the last row of a page, the next page starts after it, a forged one is 422."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from loanbridge.common.errors import InvalidInput
from loanbridge.common.pagination import decode_cursor, encode_cursor, page


def test_a_cursor_names_the_creation_time_and_id_of_a_row_in_naive_utc() -> None:
    cursor = encode_cursor(datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC), "lead-42")

    assert decode_cursor(cursor) == (datetime(2026, 12, 1, 8, 30, 0, 123456), "lead-42")


def test_a_page_of_limit_rows_has_a_cursor_only_when_more_rows_were_read() -> None:
    rows = [SimpleNamespace(id=f"r{n}", created_at=datetime(2026, 12, 1, 8, n)) for n in range(3)]

    full = page(rows, 2, lambda row: {"id": row.id})
    last = page(rows[:2], 2, lambda row: {"id": row.id})

    assert [item["id"] for item in full.items] == ["r0", "r1"]
    assert full.next_cursor is not None and decode_cursor(full.next_cursor)[1] == "r1"
    assert last.next_cursor is None


@pytest.mark.parametrize("forged", ["not-base64!", "bm90LWEtY3Vyc29y", ""])
def test_a_cursor_that_is_not_one_is_a_422_naming_the_field(forged: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_cursor(forged)

    assert "cursor" in raised.value.body()["details"]["fields"]
