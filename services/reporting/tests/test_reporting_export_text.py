"""The export holds any text a filter or a name brings: characters a worksheet cannot store are dropped, not a 500."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

API = "/api/reporting/v1"


def test_a_filter_with_control_characters_exports_without_them(reporting: Any, admin_headers: dict[str, str]) -> None:
    query = {"kpi": "conversion", "channel": "dou\x01yin\x1f", "city": "济\x0b南"}

    response = reporting.client().get(f"{API}/export.xlsx", query_string=query, headers=admin_headers)

    assert response.status_code == 200
    cells = [row[:2] for row in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert ("渠道", "douyin") in cells
    assert ("城市", "济南") in cells
