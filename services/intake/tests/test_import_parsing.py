"""Reading, checking and reporting an Excel or CSV import of customers and leads, as firms keep their files.

Every file here is built with openpyxl (or encoded as CSV) in the test; every random choice uses a fixed seed.
"""

from __future__ import annotations

import io
import random
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.pii import validators
from loanbridge.common.pii.validators import id_check_char
from loanbridge.intake.domain import imports
from loanbridge.intake.domain.import_report import (
    EXISTING_CUSTOMER_REASON,
    HEADERS,
    ImportOutcome,
    ReportRow,
    write_report,
)
from loanbridge.intake.domain.imports import (
    ID_STORED_AS_NUMBER,
    ImportFileError,
    ParsedRow,
    SourceRow,
    dedupe_within_file,
    field_for_header,
    open_source,
    parse_row,
    read_rows,
)
from loanbridge.intake.domain.leads import DEFAULT_PRODUCTS, SHANDONG_CITIES

TODAY = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=200)

# A real district code (GB/T 2260) of each of the 16 Shandong prefecture cities.
DISTRICTS = {
    "济南": "370102", "青岛": "370202", "淄博": "370303", "枣庄": "370402", "东营": "370502", "烟台": "370602",
    "潍坊": "370702", "济宁": "370811", "泰安": "370902", "威海": "371002", "日照": "371102", "临沂": "371302",
    "德州": "371402", "聊城": "371502", "滨州": "371602", "菏泽": "371702",
}  # fmt: skip

CHANNELS = {
    "抖音": "douyin", "douyin": "douyin", "百度": "baidu", "baidu": "baidu",
    "地推": "ditui", "ditui": "ditui", "转介绍": "referral", "referral": "referral",
}  # fmt: skip
STAFF = {"王经理": "u-wang", "刘芳": "u-liu", "Zhao Lei": "u-zhao"}
LOOKUPS: dict[str, Any] = {
    "cities": SHANDONG_CITIES,
    "products": DEFAULT_PRODUCTS,
    "channels_by_name_or_code": CHANNELS,
    "staff_by_name": STAFF,
}


@pytest.fixture(autouse=True)
def fixed_today() -> Iterator[None]:
    """Every test runs on 2026-03-20 (Asia/Shanghai), so "a date after today" means the same thing each run."""
    with use_clock(FixedClock(TODAY)):
        yield


def id_number(city: str = "济南", born: date = date(1985, 6, 12), serial: int = 123) -> str:
    """A valid 18-character ID number of a real district of the city."""
    first17 = f"{DISTRICTS[city]}{born:%Y%m%d}{serial:03d}"
    return first17 + id_check_char(first17)


def id_ending_in_x() -> str:
    """A valid 青岛 ID number whose check character is X."""
    return next(text for serial in range(1000) if (text := id_number("青岛", date(1990, 1, 1), serial)).endswith("X"))


def excel_damaged(id_text: str) -> int:
    """What Excel keeps of an ID number typed into a number cell: 15 significant digits, then zeros."""
    return int(id_text[:15]) * 1000


def xlsx(rows: list[list[Any]], *, title: str | None = None, width: int = 12, sheet: str = "客户台账") -> bytes:
    """An .xlsx whose first sheet holds ``rows``, under a merged title row when ``title`` is given."""
    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet
    if title is not None:
        worksheet.append([title])
        worksheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parse_file(filename: str, content: bytes, **extra: Any) -> list[ParsedRow]:
    """What the dry run does: read, check each row, then link repeats within the file."""
    return dedupe_within_file(parse_row(row, **LOOKUPS, **extra) for row in read_rows(filename, content))


def row(**cells: Any) -> SourceRow:
    """A source row of a good 济南 house lead; keyword arguments replace cells, None empties one."""
    base: dict[str, Any] = {
        "name": "张三丰",
        "mobile": "13812345678",
        "id_number": id_number(),
        "product": "房抵贷",
        "amount": "500000",
        "term_months": "36",
        "channel": "抖音",
        "city": "济南",
    }
    base.update(cells)
    return SourceRow(row_number=7, cells=base)


def errors_of(parsed: ParsedRow) -> list[tuple[str, str]]:
    return [(error.field, error.reason) for error in parsed.errors]


# --- a ledger as a firm keeps it -----------------------------------------------------------------------------------

LEDGER_HEADER = [
    "序号", "客户姓名", "联系电话", "身份证号码", "产品类型", "贷款金额（万元）", "贷款期限",
    "来源", "客户经理", "所在城市", "录入日期", "贷款用途", "备注",
]  # fmt: skip


def ledger() -> bytes:
    """A March ledger: merged title, a subtitle, Chinese header variants, amounts in 万元, and the usual mess."""
    serial_of_mar_9 = (date(2026, 3, 9) - date(1899, 12, 30)).days
    rows: list[list[Any]] = [
        ["制表:济南分公司", None, None, None, None, None, None, None, None, None, "制表日期:2026-03-20"],  # row 2
        LEDGER_HEADER,  # row 3
        # row 4: everything as text, spaces in the mobile, 济南市 with its 市
        ["1", "张三丰", "138 1234 5678", id_number(), "房抵贷", "50", "36", "抖音", "王经理", "济南市",
         "2026-03-01", "经营周转", "老客户介绍"],
        # row 5: full-width digits and spaces, a number cell for the amount, a lower-case x, years for the term
        ["2", "李\u3000四", "１３９１２３４５６７８", id_ending_in_x().lower(), "信用贷", 30, "3年", "baidu", None,
         "青岛", "2026/3/2", None, None],
        [],  # row 6: blank
        # row 7: the ID number went into a number cell: its last digits are gone
        ["3", "王五", "13712345678", float(excel_damaged(id_number("淄博"))), "房产抵押", "80", "60期", "地推",
         "刘芳", "淄博", "2026年3月3日", None, None],
        # row 8: a date cell, a product given by its code, an amount with decimals in 万元
        ["4", "赵六", "15012345678", None, "car", "12.5", "24个月", "转介绍", None, "烟台",
         datetime(2026, 3, 5, 14, 30), "购车", None],
        # row 9: 8-digit date as a number, the mobile as a number cell
        ["5", "孙七", 18612345678, id_number("潍坊", date(1978, 11, 30), 45), "车辆抵押", "20", 12, "抖音",
         "王经理", "潍坊", 20260306, None, None],
        # row 10: an Excel serial date in a plain number cell
        ["6", "周八", "17712345678", None, "信抵贷", "5", "12", "百度", None, "临沂", serial_of_mar_9, None, None],
        # row 11: a product the firm does not sell
        ["7", "吴九", "19912345678", None, "消费贷", "10", "12", "抖音", None, "德州", "2026-03-10", None, None],
        # row 12: no term
        ["8", "郑十", "13812340000", None, "房抵贷", "100", None, "抖音", None, "济南", "2026-03-11", None, None],
        # row 13: a mobile one digit short
        ["9", "钱十一", "1381234567", None, "房抵贷", "100", "36", "抖音", None, "济南", "2026-03-12", None, None],
        [None, None, None, None, None, None, None, None, None, None, None, None, None],  # row 14: blank cells
        ["合 计", None, None, None, None, 297.5, None, None, None, None, None, None, None],  # row 15: totals
    ]  # fmt: skip
    return xlsx(rows, title="2026年3月客户台账", width=len(LEDGER_HEADER))


def test_the_header_row_is_found_under_merged_title_rows_and_its_chinese_variants_are_understood() -> None:
    layout, rows = open_source("三月台账.xlsx", ledger())

    assert layout.origin == "xlsx"
    assert layout.sheet == "客户台账"
    assert layout.header_row == 3
    assert dict(layout.columns) == {
        "name": "客户姓名",
        "mobile": "联系电话",
        "id_number": "身份证号码",
        "product": "产品类型",
        "amount_wan": "贷款金额(万元)",
        "term_months": "贷款期限",
        "channel": "来源",
        "salesperson": "客户经理",
        "city": "所在城市",
        "business_date": "录入日期",
        "purpose": "贷款用途",
        "note": "备注",
    }
    assert layout.ignored_headers == ("序号",)
    assert [row.row_number for row in rows] == [4, 5, 7, 8, 9, 10, 11, 12, 13]


def test_blank_rows_and_the_totals_row_are_skipped_and_each_row_keeps_its_raw_cells_by_field() -> None:
    rows = {row.row_number: row for row in read_rows("三月台账.xlsx", ledger())}

    assert 6 not in rows and 14 not in rows and 15 not in rows
    assert rows[4].cells["name"] == "张三丰"
    assert rows[4].cells["amount_wan"] == "50"
    assert "amount" not in rows[4].cells
    assert rows[5].cells["amount_wan"] == 30
    assert rows[5].cells["salesperson"] is None
    assert isinstance(rows[7].cells["id_number"], float)


def test_a_ledger_imports_its_good_rows_in_yuan_and_rejects_each_bad_row_with_its_reason() -> None:
    parsed = {row.row_number: row for row in parse_file("三月台账.xlsx", ledger())}

    assert sorted(number for number, row in parsed.items() if row.ok) == [4, 5, 8, 9, 10]
    assert {number: errors_of(row) for number, row in parsed.items() if not row.ok} == {
        7: [("id_number", ID_STORED_AS_NUMBER)],
        11: [("product", "产品无法识别,应为 房抵贷、信抵贷、车抵贷 之一或产品代码")],
        12: [("term_months", "缺少期限")],
        13: [("mobile", "手机号格式不正确,应为 11 位中国大陆手机号")],
    }

    first = parsed[4].candidate
    assert first is not None
    assert first == imports.ImportCandidate(
        name="张三丰",
        mobile="13812345678",
        id_number=id_number(),
        product="house",
        amount=Decimal("500000"),
        term_months=36,
        channel="douyin",
        city="济南",
        salesperson_id="u-wang",
        note="老客户介绍",
        purpose="经营周转",
        business_date=date(2026, 3, 1),
    )
    summary = {
        number: (c.name, c.mobile, c.product, c.amount, c.term_months, c.channel, c.city, c.business_date)
        for number, row in parsed.items()
        if (c := row.candidate) is not None
    }
    assert summary[5] == ("李四", "13912345678", "credit", Decimal(300000), 36, "baidu", "青岛", date(2026, 3, 2))
    assert summary[8] == ("赵六", "15012345678", "car", Decimal(125000), 24, "referral", "烟台", date(2026, 3, 5))
    assert summary[9] == ("孙七", "18612345678", "car", Decimal(200000), 12, "douyin", "潍坊", date(2026, 3, 6))
    assert summary[10] == ("周八", "17712345678", "credit", Decimal(50000), 12, "baidu", "临沂", date(2026, 3, 9))
    assert parsed[5].candidate is not None and parsed[5].candidate.id_number == id_ending_in_x()
    assert parsed[8].candidate is not None and parsed[8].candidate.id_number is None


def test_a_rejected_row_still_shows_its_masked_name_mobile_product_and_amount() -> None:
    parsed = {row.row_number: row for row in parse_file("三月台账.xlsx", ledger())}

    damaged = parsed[7]
    assert (damaged.masked_name, damaged.masked_mobile, damaged.product, damaged.amount) == (
        "王*",
        "137****5678",
        "house",
        Decimal(800000),
    )
    assert damaged.candidate is None


def test_a_bare_serial_date_in_a_1904_based_workbook_is_read_with_that_epoch() -> None:
    workbook = Workbook()
    workbook.epoch = CALENDAR_MAC_1904
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.append(["姓名", "手机号", "产品", "金额", "期限", "日期"])
    worksheet.append(["张三丰", "13812345678", "house", "500000", "36", (date(2026, 3, 1) - date(1904, 1, 1)).days])
    buffer = io.BytesIO()
    workbook.save(buffer)

    [parsed] = parse_file("mac.xlsx", buffer.getvalue())

    assert parsed.candidate is not None and parsed.candidate.business_date == date(2026, 3, 1)


def test_the_header_may_sit_on_a_later_sheet_after_an_instructions_sheet() -> None:
    workbook = Workbook()
    instructions = workbook.active
    assert instructions is not None
    instructions.title = "填写说明"
    instructions.append(["请按模板填写,身份证号列请设为文本格式"])
    data = workbook.create_sheet("客户")
    data.append(["姓名", "手机号", "产品", "金额", "期限"])
    data.append(["张三丰", "13812345678", "house", "500000", "36"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    layout, rows = open_source("客户.xlsx", buffer.getvalue())

    assert (layout.sheet, layout.header_row, layout.skipped_sheets) == ("客户", 1, ("填写说明",))
    assert [row.row_number for row in rows] == [2]


def test_a_header_repeated_below_the_data_is_skipped_not_rejected() -> None:
    header = ["姓名", "手机号", "产品", "金额", "期限"]
    content = xlsx(
        [
            header,
            ["张三丰", "13812345678", "house", "500000", "36"],
            header,
            ["李四", "13912345678", "car", "80000", "12"],
        ]
    )

    assert [row.row_number for row in read_rows("a.xlsx", content)] == [2, 4]


# --- headers -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓名", "name"),
        ("客户姓名", "name"),
        ("*姓名", "name"),
        (" 手 机 号 ", "mobile"),
        ("手机", "mobile"),
        ("联系电话", "mobile"),
        ("电话", "mobile"),
        ("身份证号", "id_number"),
        ("身份证", "id_number"),
        ("证件号码", "id_number"),
        ("产品", "product"),
        ("贷款产品", "product"),
        ("产品类型", "product"),
        ("贷款金额", "amount"),
        ("金额", "amount"),
        ("申请金额", "amount"),
        ("贷款金额(元)", "amount"),
        ("贷款金额(万元)", "amount_wan"),
        ("金额（万元）", "amount_wan"),
        ("申请金额【单位：万元】", "amount_wan"),
        ("金额/万元", "amount_wan"),
        ("金额万元", "amount_wan"),
        ("万元", "amount_wan"),
        ("期限", "term_months"),
        ("贷款期限", "term_months"),
        ("期限(月)", "term_months"),
        ("期限（年）", "term_years"),
        ("渠道", "channel"),
        ("来源", "channel"),
        ("客户来源", "channel"),
        ("业务员", "salesperson"),
        ("跟进人", "salesperson"),
        ("客户经理", "salesperson"),
        ("备注", "note"),
        ("城市", "city"),
        ("所在城市", "city"),
        ("用途", "purpose"),
        ("贷款用途", "purpose"),
        ("日期", "business_date"),
        ("录入日期", "business_date"),
        ("进件日期", "business_date"),
    ],
)
def test_each_known_header_wording_names_its_canonical_field(header: str, field: str) -> None:
    found = field_for_header(header)

    assert found is not None and found[0] == field


@pytest.mark.parametrize("header", ["序号", "2026年3月客户台账", "身份证(复印件)", "金额(美元)", "", None, 12])
def test_titles_and_unknown_headers_name_no_field(header: Any) -> None:
    assert field_for_header(header) is None


def test_when_two_columns_mean_the_same_field_the_more_specific_header_is_read() -> None:
    content = xlsx(
        [
            ["姓名", "电话", "手机号", "产品", "金额", "期限"],
            ["张三丰", "0531-88886666", "13812345678", "house", "500000", "36"],
        ]
    )

    layout, rows = open_source("a.xlsx", content)

    assert layout.columns["mobile"] == "手机号"
    assert layout.ignored_headers == ("电话",)
    assert next(rows).cells["mobile"] == "13812345678"


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        ("客户.xls", b"\xd0\xcf\x11\xe0", "不支持旧版 .xls 文件"),
        ("客户.pdf", b"%PDF-1.7", "只支持 .xlsx 和 .csv 文件"),
        ("客户.xlsx", b"not a zip at all", "文件不是有效的 .xlsx 文件"),
        ("客户.xlsx", xlsx([["2026年3月客户台账"], ["张三丰", "13812345678"]]), "未找到表头行"),
        ("客户.xlsx", xlsx([["姓名", "手机号", "产品", "金额"], ["张三丰", "13812345678", "house", "1"]]), "期限"),
        ("客户.csv", "姓名,产品,金额,期限\n张三丰,house,500000,36\n".encode(), "手机号或身份证号"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_as_a_whole_with_a_chinese_reason(
    filename: str, content: bytes, reason: str
) -> None:
    with pytest.raises(ImportFileError) as refused:
        read_rows(filename, content)

    assert reason in str(refused.value)
    assert "13812345678" not in str(refused.value) and "张三丰" not in str(refused.value)


# --- CSV -----------------------------------------------------------------------------------------------------------

CSV_TEXT = (
    "2026年3月进件登记,,,,,,,,,\n"
    "客户姓名,手机,身份证,贷款产品,金额（万元）,期限,渠道,跟进人,所在城市,进件日期\n"
    f"张三丰,13812345678,{id_number()},房抵贷,50,36,抖音,王经理,济南,2026/3/1\n"
    f'李四,="13912345678",="{id_number("青岛")}",信用贷,30万,3年,百度,刘芳,青岛市,2026年3月2日\n'
    "王五,13712345678,3.70102E+17,车抵贷,12,24期,地推,,淄博,20260303\n"
    "赵六,15012345678,370102199001011000,车抵贷,12,24期,地推,,淄博,20260303\n"
    ",,,,,,,,,\n"
    "总计:,,,,104,,,,,\n"
)


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("gbk", b""), ("gb18030", b""), ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf")],
    ids=["gbk", "gb18030", "utf-8", "utf-8 with BOM"],
)
def test_a_csv_in_gbk_or_utf8_reads_the_same_and_its_number_mangled_ids_are_reported(
    encoding: str, prefix: bytes
) -> None:
    parsed = {row.row_number: row for row in parse_file("登记.csv", prefix + CSV_TEXT.encode(encoding))}

    assert sorted(parsed) == [3, 4, 5, 6]
    assert parsed[3].candidate is not None and parsed[3].candidate.amount == Decimal(500000)
    second = parsed[4].candidate
    assert second is not None
    assert (second.name, second.mobile, second.id_number, second.amount, second.term_months, second.city) == (
        "李四",
        "13912345678",
        id_number("青岛"),
        Decimal(300000),
        36,
        "青岛",
    )
    assert second.salesperson_id == "u-liu" and second.business_date == date(2026, 3, 2)
    assert errors_of(parsed[5]) == [("id_number", ID_STORED_AS_NUMBER)]
    assert len(parsed[6].errors) == 1
    assert parsed[6].errors[0].field == "id_number"
    assert parsed[6].errors[0].reason.startswith(ID_STORED_AS_NUMBER)


def test_a_tab_separated_utf16_export_is_read_too() -> None:
    text = "姓名\t手机号\t产品\t贷款金额\t期限\n张三丰\t13812345678\t房抵贷\t500,000\t36\n"

    parsed = parse_file("导出.csv", text.encode("utf-16"))

    assert [(row.row_number, row.ok) for row in parsed] == [(2, True)]


# --- ID numbers Excel stored as numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "origin"),
    [
        (3.70102198506121e17, "xlsx"),  # a number cell, as Excel writes it
        (excel_damaged(id_number()), "xlsx"),  # a whole-number cell
        (370102198506121239, "xlsx"),  # even a whole number that happens to be complete: a number cell is not trusted
        ("3.70102198506121E+17", "xlsx"),  # the displayed value copied as text
        ("3.70102E+17", "csv"),
        ("3.70102198506121e+17", "csv"),
        (str(excel_damaged(id_number())), "csv"),  # exported with the format "0": zeros where the digits were
        (str(excel_damaged(id_number())), "xlsx"),  # typed back as text: its check digit gives it away
    ],
)
def test_an_id_number_excel_stored_as_a_number_is_reported_and_never_imported(cell: Any, origin: Any) -> None:
    source = row(id_number=cell)
    parsed = parse_row(SourceRow(row_number=source.row_number, cells=source.cells, origin=origin), **LOOKUPS)

    assert parsed.candidate is None
    assert len(parsed.errors) == 1
    assert parsed.errors[0].field == "id_number"
    assert parsed.errors[0].reason.startswith(ID_STORED_AS_NUMBER)


def test_a_genuine_id_number_ending_in_000_typed_as_text_in_an_xlsx_is_accepted() -> None:
    genuine = "370102198001015000"
    assert id_check_char(genuine[:17]) == "0"

    parsed = parse_row(row(id_number=genuine), **LOOKUPS)

    assert parsed.candidate is not None and parsed.candidate.id_number == genuine


def test_a_mobile_in_scientific_notation_is_reported_as_mangled_by_excel() -> None:
    parsed = parse_row(row(mobile="1.38123E+10"), **LOOKUPS)

    assert errors_of(parsed) == [("mobile", "手机号被 Excel 存为科学计数法,数字已丢失,请将该列设为文本后重新填写")]


# --- each field ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "amount"),
    [
        ({"amount": "500000"}, "500000"),
        ({"amount": 500000}, "500000"),
        ({"amount": 500000.0}, "500000"),
        ({"amount": "500,000.00"}, "500000"),
        ({"amount": "¥500,000"}, "500000"),
        ({"amount": "￥５０００００元"}, "500000"),
        ({"amount": "30万"}, "300000"),
        ({"amount": "30万元"}, "300000"),
        ({"amount": "30w"}, "300000"),
        ({"amount": "30W"}, "300000"),
        ({"amount": "12.5万"}, "125000"),
        ({"amount": "123456.78"}, "123456.78"),
        ({"amount": None, "amount_wan": "30"}, "300000"),
        ({"amount": None, "amount_wan": 30}, "300000"),
        ({"amount": None, "amount_wan": 0.3}, "3000"),
        ({"amount": None, "amount_wan": 12.3456}, "123456"),
        ({"amount": None, "amount_wan": "30万"}, "300000"),
        ({"amount": None, "amount_wan": "５０"}, "500000"),
    ],
)
def test_amounts_come_out_in_yuan_from_yuan_and_wan_columns_and_suffixes(cells: dict[str, Any], amount: str) -> None:
    parsed = parse_row(row(**cells), **LOOKUPS)

    assert parsed.candidate is not None, parsed.errors
    assert parsed.candidate.amount == Decimal(amount)


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"amount": None}, "缺少贷款金额"),
        ({"amount": "面议"}, "贷款金额不是有效的数字"),
        ({"amount": "-50000"}, "贷款金额必须大于 0"),
        ({"amount": 0}, "贷款金额必须大于 0"),
        ({"amount": "1000.005"}, "贷款金额最多精确到分"),
        ({"amount": "50"}, "贷款金额超出合理范围(1000 元至 1 亿元),请确认单位是元还是万元"),
        ({"amount": None, "amount_wan": 500000}, "贷款金额超出合理范围(1000 元至 1 亿元),请确认单位是元还是万元"),
    ],
)
def test_an_amount_that_is_missing_not_a_number_or_in_the_wrong_unit_is_rejected(
    cells: dict[str, Any], reason: str
) -> None:
    assert errors_of(parse_row(row(**cells), **LOOKUPS)) == [("amount", reason)]


@pytest.mark.parametrize(
    ("cells", "months"),
    [
        ({"term_months": "36"}, 36),
        ({"term_months": 36}, 36),
        ({"term_months": 36.0}, 36),
        ({"term_months": "36期"}, 36),
        ({"term_months": "36个月"}, 36),
        ({"term_months": "36月"}, 36),
        ({"term_months": "３６期"}, 36),
        ({"term_months": "3年"}, 36),
        ({"term_months": "2.5年"}, 30),
        ({"term_months": "1年6个月"}, 18),
        ({"term_months": None, "term_years": 3}, 36),
        ({"term_months": None, "term_years": "3"}, 36),
        ({"term_months": None, "term_years": "24期"}, 24),
    ],
)
def test_terms_are_read_as_months_from_periods_months_and_years(cells: dict[str, Any], months: int) -> None:
    parsed = parse_row(row(**cells), **LOOKUPS)

    assert parsed.candidate is not None, parsed.errors
    assert parsed.candidate.term_months == months


@pytest.mark.parametrize(
    ("term", "reason"),
    [
        (None, "缺少期限"),
        ("三年", "期限无法识别,应为月数(如 36、36期)或年数(如 3年)"),
        ("36.5", "期限无法识别,应为月数(如 36、36期)或年数(如 3年)"),
        ("0", "期限应在 1 到 360 个月之间"),
        ("40年", "期限应在 1 到 360 个月之间"),
    ],
)
def test_a_missing_or_unreadable_term_is_rejected_never_defaulted(term: Any, reason: str) -> None:
    assert errors_of(parse_row(row(term_months=term), **LOOKUPS)) == [("term_months", reason)]


@pytest.mark.parametrize(
    "cell",
    [
        "2026-03-01",
        "2026/3/1",
        "2026/03/01",
        "2026.3.1",
        "2026年3月1日",
        "2026 年 3 月 1 日",
        "20260301",
        20260301,
        "2026-03-01 09:30:00",
        datetime(2026, 3, 1, 9, 30),
        date(2026, 3, 1),
        (date(2026, 3, 1) - date(1899, 12, 30)).days,  # an Excel serial in a plain number cell
        float((date(2026, 3, 1) - date(1899, 12, 30)).days) + 0.5,
        str((date(2026, 3, 1) - date(1899, 12, 30)).days),
    ],
)
def test_business_dates_are_read_in_every_format_firms_use(cell: Any) -> None:
    parsed = parse_row(row(business_date=cell), **LOOKUPS)

    assert parsed.candidate is not None, parsed.errors
    assert parsed.candidate.business_date == date(2026, 3, 1)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("2026-02-30", "日期无法识别,支持 2026-03-01、2026/3/1、2026年3月1日、20260301 或 Excel 日期格式"),
        ("3月1日", "日期无法识别,支持 2026-03-01、2026/3/1、2026年3月1日、20260301 或 Excel 日期格式"),
        ("2026-03-21", "日期晚于今天"),
        ("1985-06-12", "日期早于 1990 年,不合理"),
    ],
)
def test_an_impossible_or_future_business_date_is_rejected(cell: str, reason: str) -> None:
    assert errors_of(parse_row(row(business_date=cell), **LOOKUPS)) == [("business_date", reason)]


def test_a_missing_business_date_is_none_not_today() -> None:
    parsed = parse_row(row(business_date=None), **LOOKUPS)

    assert parsed.candidate is not None and parsed.candidate.business_date is None


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("房抵贷", "house"),
        ("房产抵押", "house"),
        ("房屋抵押贷款", "house"),
        ("信抵贷", "credit"),
        ("信用贷", "credit"),
        ("车抵贷", "car"),
        ("车辆抵押", "car"),
        ("house", "house"),
        ("CAR", "car"),
        (" 房 抵 贷 ", "house"),
    ],
)
def test_products_are_recognised_by_name_alias_or_code(cell: str, code: str) -> None:
    parsed = parse_row(row(product=cell), **LOOKUPS)

    assert parsed.candidate is not None and parsed.candidate.product == code


def test_a_product_an_admin_added_is_recognised_by_its_configured_name() -> None:
    products = {**DEFAULT_PRODUCTS, "biz": "经营贷"}

    parsed = parse_row(row(product="经营贷"), **{**LOOKUPS, "products": products})

    assert parsed.candidate is not None and parsed.candidate.product == "biz"


@pytest.mark.parametrize(
    ("cell", "city"),
    [
        ("济南", "济南"),
        ("济南市", "济南"),
        ("山东省济南市", "济南"),
        ("山东济南", "济南"),
        ("济南市历下区", "济南"),
        ("菏泽 ", "菏泽"),
    ],
)
def test_cities_are_accepted_with_or_without_province_and_shi(cell: str, city: str) -> None:
    parsed = parse_row(row(city=cell), **LOOKUPS)

    assert parsed.candidate is not None and parsed.candidate.city == city


def test_a_city_outside_the_configured_ones_is_rejected() -> None:
    assert errors_of(parse_row(row(city="上海市"), **LOOKUPS)) == [
        ("city", "城市不在已配置的城市中(如 济南、青岛,可带“市”字)")
    ]


@pytest.mark.parametrize(
    ("cell", "code"), [("抖音", "douyin"), ("douyin", "douyin"), ("DouYin", "douyin"), ("转介绍", "referral")]
)
def test_channels_are_found_by_chinese_name_or_code(cell: str, code: str) -> None:
    parsed = parse_row(row(channel=cell), **LOOKUPS)

    assert parsed.candidate is not None and parsed.candidate.channel == code


def test_an_unregistered_channel_is_rejected_and_an_empty_one_takes_the_uploaders_default() -> None:
    assert errors_of(parse_row(row(channel="快手"), **LOOKUPS)) == [
        ("channel", "渠道未登记,请先在渠道管理中添加,或改为已有渠道的名称或代码")
    ]
    defaulted = parse_row(row(channel=None, city=None), **LOOKUPS, default_channel="ditui", default_city="济南")
    assert defaulted.candidate is not None
    assert (defaulted.candidate.channel, defaulted.candidate.city) == ("ditui", "济南")
    bare = parse_row(row(channel=None, city=None), **LOOKUPS)
    assert bare.candidate is not None and (bare.candidate.channel, bare.candidate.city) == (None, None)


def test_a_salesperson_is_matched_to_a_user_and_an_unknown_one_is_rejected() -> None:
    named = parse_row(row(salesperson="王 经理"), **LOOKUPS)
    nobody = parse_row(row(salesperson=None), **LOOKUPS)
    latin = parse_row(row(salesperson="Zhao  Lei"), **LOOKUPS)

    assert named.candidate is not None and named.candidate.salesperson_id == "u-wang"
    assert nobody.candidate is not None and nobody.candidate.salesperson_id is None
    assert latin.candidate is not None and latin.candidate.salesperson_id == "u-zhao"
    assert errors_of(parse_row(row(salesperson="离职的老李"), **LOOKUPS)) == [
        ("salesperson", "业务员不是系统中的员工(或有重名),请核对姓名,或清空该列后导入")
    ]


def test_a_row_needs_a_name_and_a_mobile_or_id_number_and_one_of_them_is_enough() -> None:
    only_id = parse_row(row(mobile=None), **LOOKUPS)
    only_mobile = parse_row(row(id_number=None), **LOOKUPS)

    assert only_id.candidate is not None and only_id.candidate.mobile is None
    assert only_mobile.candidate is not None and only_mobile.candidate.id_number is None
    assert errors_of(parse_row(row(mobile=None, id_number=None), **LOOKUPS)) == [
        ("mobile", "手机号和身份证号至少填写一项")
    ]
    assert errors_of(parse_row(row(name=None), **LOOKUPS)) == [("name", "缺少姓名")]
    assert errors_of(parse_row(row(name="13812345678"), **LOOKUPS)) == [
        ("name", "姓名含有数字或符号,请检查是否填错了列")
    ]


def test_a_bad_mobile_rejects_the_row_even_when_the_id_number_is_good() -> None:
    parsed = parse_row(row(mobile="12345678901"), **LOOKUPS)

    assert parsed.candidate is None
    assert [error.field for error in parsed.errors] == ["mobile"]


def test_every_problem_of_a_row_is_reported_not_just_the_first() -> None:
    parsed = parse_row(
        row(
            name=None,
            mobile="1381234",
            id_number="370102198513451234",
            product="消费贷",
            amount="面议",
            term_months=None,
        ),
        **LOOKUPS,
    )

    assert [error.field for error in parsed.errors] == [
        "name",
        "mobile",
        "id_number",
        "product",
        "amount",
        "term_months",
    ]
    assert parsed.reason.startswith("姓名: 缺少姓名;手机号: ")


def test_two_mobiles_in_one_cell_are_rejected_rather_than_guessed() -> None:
    assert errors_of(parse_row(row(mobile="13812345678/13912345678"), **LOOKUPS)) == [
        ("mobile", "一个单元格只能填写一个手机号")
    ]


# --- personal data never in a reason ---------------------------------------------------------------------------------

_SOURCES = Path(imports.__file__).read_text(encoding="utf-8") + Path(validators.__file__).read_text(encoding="utf-8")
NAME_CHARS = "".join(
    ch for ch in "赵钱孙李周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施孔曹严华魏陶姜戚谢邹喻柏窦章苏潘葛" if ch not in _SOURCES
)
FIELDS = ("name", "mobile", "id_number", "product", "amount", "term_months", "channel", "city", "salesperson")


@PROPERTY
@given(
    mobile=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    id_text=st.from_regex(r"37[0-9]{15}[0-9X]", fullmatch=True),
    name=st.text(alphabet=NAME_CHARS, min_size=3, max_size=4),
    order=st.permutations(FIELDS),
)
def test_no_reason_ever_quotes_a_name_mobile_or_id_number_whichever_column_it_is_in(
    mobile: str, id_text: str, name: str, order: list[str]
) -> None:
    values = [name, mobile, id_text, f"{mobile[:7]}", id_text[6:14], name[::-1], mobile, id_text, name]
    cells = dict(zip(order, values, strict=True))

    parsed = parse_row(SourceRow(row_number=2, cells=cells), **LOOKUPS)

    for error in parsed.errors:
        for value in (mobile, id_text, name, mobile[:7], id_text[6:14], name[::-1]):
            assert value not in error.reason


CELL_VALUES = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(min_value=datetime(1800, 1, 1), max_value=datetime(2200, 1, 1)),
    st.dates(),
    st.decimals(allow_nan=True, allow_infinity=True),
)


@PROPERTY
@given(
    cells=st.fixed_dictionaries(
        {},
        optional=dict.fromkeys((*FIELDS, "amount_wan", "term_years", "business_date", "note", "purpose"), CELL_VALUES),
    )
)
def test_any_cell_contents_give_a_candidate_or_errors_never_an_exception(cells: dict[str, Any]) -> None:
    parsed = parse_row(SourceRow(row_number=2, cells=cells, origin="csv"), **LOOKUPS)

    assert (parsed.candidate is None) == bool(parsed.errors)
    assert all(error.field in imports.FIELD_LABELS for error in parsed.errors)


# --- duplicates within one file ---------------------------------------------------------------------------------------


def good(
    number: int, *, name: str = "张三丰", mobile: str | None = "13812345678", id_text: str | None = None
) -> ParsedRow:
    parsed = parse_row(SourceRow(number, row(name=name, mobile=mobile, id_number=id_text).cells), **LOOKUPS)
    assert parsed.ok, parsed.errors
    return parsed


def test_a_second_row_with_the_same_mobile_or_id_number_is_linked_to_the_first() -> None:
    rows = dedupe_within_file(
        [
            good(2, mobile="13812345678", id_text=None),
            good(3, name="李四", mobile="13912345678", id_text=id_number("青岛")),
            good(5, mobile="13812345678", id_text=id_number()),  # same mobile as row 2; brings an ID number
            good(8, mobile="18612345678", id_text=id_number()),  # same ID number as row 5, so row 2's person
            good(9, name="李四", mobile=None, id_text=id_number("青岛")),
            good(11, name="王五", mobile="13712345678", id_text=None),
        ]
    )

    assert [(row.row_number, row.ok, row.duplicate_of) for row in rows] == [
        (2, True, None),
        (3, True, None),
        (5, True, 2),
        (8, True, 2),
        (9, True, 3),
        (11, True, None),
    ]
    assert rows[2].reason == "与第 2 行重复"


def test_a_row_that_shares_a_key_with_an_earlier_row_but_contradicts_it_is_rejected() -> None:
    rows = dedupe_within_file(
        [
            good(2, mobile="13812345678", id_text=id_number()),
            good(3, name="李四", mobile="13912345678", id_text=id_number("青岛")),
            good(4, mobile="13812345678", id_text=id_number("淄博")),  # same mobile, another ID number
            good(5, name="张三", mobile="13812345678", id_text=None),  # same mobile, another name
            good(6, name="张三丰", mobile="13912345678", id_text=id_number()),  # ID of row 2, mobile of row 3
            good(7, name="张三丰", mobile="13812345678", id_text=None),  # still linked after all that
        ]
    )

    assert {row.row_number: errors_of(row) for row in rows if not row.ok} == {
        4: [("id_number", "手机号与第 2 行相同,身份证号却不同,请核对是否为同一人")],
        5: [("name", "手机号与第 2 行相同,姓名却不同,请核对是否为同一人")],
        6: [("mobile", "身份证号与第 2 行相同,手机号却与第 3 行相同,无法确定是哪位客户")],
    }
    assert rows[5].duplicate_of == 2
    assert all(row.candidate is None for row in rows if not row.ok)


def test_rejected_rows_take_no_part_in_duplicate_detection() -> None:
    rejected = parse_row(SourceRow(2, row(product="消费贷").cells), **LOOKUPS)

    rows = dedupe_within_file([rejected, good(3)])

    assert rows[0] is rejected
    assert rows[1].duplicate_of is None


# --- the report ------------------------------------------------------------------------------------------------------


def report_rows() -> tuple[list[ReportRow], list[str]]:
    """The ledger's dry-run report, with row 9's person already a customer; and the clear values to look for."""
    parsed = parse_file("三月台账.xlsx", ledger())
    lines = []
    for parsed_row in parsed:
        if parsed_row.row_number == 9:
            lines.append(
                ReportRow.from_parsed(
                    parsed_row,
                    outcome=ImportOutcome.WILL_LINK,
                    reason=EXISTING_CUSTOMER_REASON,
                    product_names=DEFAULT_PRODUCTS,
                )
            )
        else:
            lines.append(ReportRow.from_parsed(parsed_row, product_names=DEFAULT_PRODUCTS))
    clear = [
        value
        for line in ledger_values()
        for value in line
        if isinstance(value, str) and (re.fullmatch(r"\d{11}|\d{17}[\dX]", value) or value in NAMES_IN_LEDGER)
    ]
    return lines, clear


NAMES_IN_LEDGER = {"张三丰", "李四", "王五", "赵六", "孙七", "周八", "吴九", "郑十", "钱十一"}


def ledger_values() -> list[list[Any]]:
    workbook = openpyxl.load_workbook(io.BytesIO(ledger()), data_only=True)
    worksheet = workbook.active
    assert worksheet is not None
    return [[_as_text(value) for value in line] for line in worksheet.iter_rows(values_only=True)]


def _as_text(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, str):
        return re.sub(r"\s", "", value.translate(str.maketrans("１２３４５６７８９０", "1234567890")))
    return value


def test_the_report_round_trips_through_openpyxl_with_chinese_headers_outcomes_and_a_summary() -> None:
    lines, _ = report_rows()

    workbook = openpyxl.load_workbook(io.BytesIO(write_report(lines)))

    assert workbook.sheetnames == ["导入结果", "汇总"]
    results = list(workbook["导入结果"].iter_rows(values_only=True))
    assert results[0] == HEADERS == ("行号", "结果", "原因", "姓名(脱敏)", "手机号(脱敏)", "产品", "金额(元)")
    by_row = {line[0]: line[1:] for line in results[1:]}
    assert list(by_row) == [4, 5, 7, 8, 9, 10, 11, 12, 13]
    assert by_row[4] == ("将新建", None, "张**", "138****5678", "房抵贷", 500000)
    assert by_row[7] == ("拒绝", f"身份证号: {ID_STORED_AS_NUMBER}", "王*", "137****5678", "房抵贷", 800000)
    assert by_row[9][:2] == ("将关联已有客户", EXISTING_CUSTOMER_REASON)
    assert by_row[12][:2] == ("拒绝", "期限: 缺少期限")
    assert by_row[8][5] == 125000
    summary = dict(workbook["汇总"].iter_rows(min_row=2, values_only=True))
    assert summary == {"总行数": 9, "新建": 4, "关联": 1, "拒绝": 4}


def test_the_report_holds_no_name_mobile_or_id_number_in_clear_anywhere_in_the_file() -> None:
    lines, clear = report_rows()
    content = write_report(lines)

    assert {"13812345678", "13912345678", id_number(), "张三丰", "钱十一"} <= set(clear)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    for value in clear:
        assert value not in xml


def test_the_report_masks_again_whatever_a_caller_hands_it_and_never_writes_a_formula() -> None:
    careless = [
        ReportRow(2, ImportOutcome.REJECTED, "手机号 13812345678 已在黑名单", "张三丰", "13812345678", "house", None),
        ReportRow(3, ImportOutcome.CREATED, "", '=HYPERLINK("http://x")', "", "house", Decimal("1000.50")),
        ReportRow(4, ImportOutcome.LINKED, "", "李*", "139****5678", "car", Decimal(80000)),
    ]

    workbook = openpyxl.load_workbook(io.BytesIO(write_report(careless)))

    lines = list(workbook["导入结果"].iter_rows(min_row=2, values_only=True))
    assert lines[0] == (2, "拒绝", "手机号 1381***5678 已在黑名单", "张**", "138****5678", "house", None)
    assert lines[1][1:4] == ("已新建", None, "=" + "*" * (len(careless[1].masked_name) - 1))
    assert workbook["导入结果"].cell(row=3, column=4).data_type == "s"
    assert lines[2][1:5] == ("已关联", None, "李*", "139****5678")
    assert dict(workbook["汇总"].iter_rows(min_row=2, values_only=True)) == {
        "总行数": 3,
        "新建": 1,
        "关联": 1,
        "拒绝": 1,
    }


# --- a big file: 10,000 rows, about 5% bad -------------------------------------------------------------------------

BIG_HEADER = [
    "序号",
    "姓名",
    "手机号",
    "身份证号",
    "产品",
    "贷款金额",
    "期限",
    "渠道",
    "业务员",
    "城市",
    "日期",
    "备注",
]
CITIES = list(DISTRICTS)


@dataclass
class BigFile:
    content: bytes
    good: dict[int, tuple[Decimal, int]]  # row → expected amount in yuan and term in months
    bad: dict[int, tuple[str, str]]  # row → expected field and (start of the) reason
    duplicates: dict[int, int]  # row → the first row of that person


def _bad_row(kind: str, cells: list[Any], rng: random.Random) -> tuple[str, str]:
    """Spoil one cell of a good row; answers the field and reason the import must give."""
    if kind == "id_as_number":
        cells[3] = float(excel_damaged(cells[3]))
        return "id_number", ID_STORED_AS_NUMBER
    if kind == "id_as_scientific_text":
        cells[3] = f"{int(cells[3][:15]) / 10**14:.14f}".rstrip("0") + "E+17"
        return "id_number", ID_STORED_AS_NUMBER
    if kind == "id_checksum":
        cells[3] = cells[3][:17] + ("1" if cells[3][17] != "1" else "2")
        return "id_number", "身份证号校验位不正确"
    if kind == "short_mobile":
        cells[2] = cells[2][:10]
        return "mobile", "手机号格式不正确"
    if kind == "no_name":
        cells[1] = rng.choice([None, "  ", "\u3000"])
        return "name", "缺少姓名"
    if kind == "unknown_product":
        cells[4] = rng.choice(["消费贷", "装修贷", "保单贷"])
        return "product", "产品无法识别"
    if kind == "amount_not_a_number":
        cells[5] = rng.choice(["面议", "待定", "五十万"])
        return "amount", "贷款金额不是有效的数字"
    if kind == "no_term":
        cells[6] = None
        return "term_months", "缺少期限"
    if kind == "unknown_city":
        cells[9] = rng.choice(["上海", "北京市", "南京"])
        return "city", "城市不在已配置的城市中"
    if kind == "unknown_channel":
        cells[7] = rng.choice(["快手", "小红书"])
        return "channel", "渠道未登记"
    if kind == "future_date":
        cells[10] = "2026-04-01"
        return "business_date", "日期晚于今天"
    assert kind == "no_contact"
    cells[2] = cells[3] = None
    return "mobile", "手机号和身份证号至少填写一项"


BAD_KINDS = (
    "id_as_number", "id_as_scientific_text", "id_checksum", "short_mobile", "no_name", "unknown_product",
    "amount_not_a_number", "no_term", "unknown_city", "unknown_channel", "future_date", "no_contact",
)  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂"


def big_file(rows: int = 10_000, *, seed: int = 20260320) -> BigFile:
    """A generated ledger: title rows, data rows in mixed formats, ~5% bad, ~1% repeats, blank rows, a totals row."""
    rng = random.Random(seed)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户")
    sheet.append(["2026年客户台账(导出)"])
    sheet.append([])
    sheet.append(BIG_HEADER)
    expected = BigFile(b"", {}, {}, {})
    people: list[tuple[int, str, str, str]] = []  # first row, name, mobile, ID number
    number = 3
    for index in range(rows):
        number += 1
        if index and index % 997 == 0:  # a blank row now and then
            sheet.append([])
            number += 1
        if people and rng.random() < 0.01:
            first, name, mobile, id_text = rng.choice(people)
            cells = [
                index + 1,
                name,
                mobile,
                id_text,
                "车抵贷",
                "80000",
                "12",
                "百度",
                None,
                "济南",
                "2026-03-01",
                None,
            ]
            sheet.append(cells)
            expected.duplicates[number] = first
            expected.good[number] = (Decimal(80000), 12)
            continue
        born = date(1965, 1, 1) + timedelta(days=index)  # one birthday per row: ID numbers never collide by chance
        city = CITIES[index % 16]
        id_text = id_number(city, born, rng.randrange(1000))
        mobile = f"{rng.choice(['138', '139', '150', '186', '177', '199'])}{index:08d}"
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice([1, 2])))
        wan = rng.randrange(5, 500)
        amount_cell, amount = rng.choice(
            [
                (wan * 10000, Decimal(wan * 10000)),
                (f"{wan * 10000:,}.00", Decimal(wan * 10000)),
                (f"{wan}万", Decimal(wan * 10000)),
                (float(wan * 10000), Decimal(wan * 10000)),
            ]
        )
        months = rng.choice([12, 24, 36, 60])
        term_cell = rng.choice([months, str(months), f"{months}期", f"{months // 12}年"])
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(440))
        date_cell = rng.choice(
            [
                day.isoformat(),
                f"{day.year}/{day.month}/{day.day}",
                f"{day:%Y%m%d}",
                f"{day.year}年{day.month}月{day.day}日",
                datetime(day.year, day.month, day.day),
            ]
        )
        cells = [
            index + 1,
            name,
            mobile,
            id_text,
            rng.choice(["房抵贷", "信抵贷", "车抵贷", "house", "信用贷", "房产抵押"]),
            amount_cell,
            term_cell,
            rng.choice(["抖音", "百度", "地推", "转介绍", "douyin"]),
            rng.choice([None, "王经理", "刘芳"]),
            rng.choice([city, city + "市"]),
            date_cell,
            rng.choice([None, "老客户", "需要尽快放款"]),
        ]
        if rng.random() < 0.05:
            expected.bad[number] = _bad_row(rng.choice(BAD_KINDS), cells, rng)
        else:
            expected.good[number] = (amount, months)
            people.append((number, name, mobile, id_text))
        sheet.append(cells)
    sheet.append(["合计", None, None, None, None, 123456789])
    buffer = io.BytesIO()
    workbook.save(buffer)
    expected.content = buffer.getvalue()
    return expected


@pytest.fixture(scope="module")
def big() -> BigFile:
    return big_file()


@pytest.fixture(scope="module")
def big_parsed(big: BigFile) -> tuple[list[ParsedRow], float]:
    """The big file read, checked and deduplicated (on the test's fixed day), and the CPU seconds that took: the
    parser's own cost, which a busy machine's other processes do not stretch (the end-to-end time through the
    gateway is bench/intake_import.py's)."""
    with use_clock(FixedClock(TODAY)):
        started = time.process_time()
        parsed = parse_file("台账.xlsx", big.content)
        return parsed, time.process_time() - started


def test_ten_thousand_rows_with_five_percent_bad_parse_in_seconds_naming_each_bad_row_and_why(
    big: BigFile, big_parsed: tuple[list[ParsedRow], float]
) -> None:
    parsed, elapsed = big_parsed

    assert elapsed < 5.0, f"parsing took {elapsed:.2f} CPU seconds"
    assert len(parsed) == 10_000
    assert 400 <= len(big.bad) <= 600 and len(big.duplicates) >= 50
    rejected = {row.row_number: row.errors for row in parsed if not row.ok}
    assert set(rejected) == set(big.bad)
    for number, errors in rejected.items():
        field, reason = big.bad[number]
        assert len(errors) == 1, (number, errors)
        assert errors[0].field == field and errors[0].reason.startswith(reason), (number, errors, field, reason)
    accepted = {row.row_number: row for row in parsed if row.ok}
    assert set(accepted) == set(big.good)
    for number, (amount, months) in big.good.items():
        candidate = accepted[number].candidate
        assert candidate is not None
        assert (candidate.amount, candidate.term_months) == (amount, months), number
    assert {row.row_number: row.duplicate_of for row in parsed if row.duplicate_of is not None} == big.duplicates


def test_the_report_of_ten_thousand_rows_counts_every_outcome_and_holds_no_clear_mobile(
    big: BigFile, big_parsed: tuple[list[ParsedRow], float]
) -> None:
    parsed, _ = big_parsed
    started = time.process_time()
    content = write_report([ReportRow.from_parsed(row, product_names=DEFAULT_PRODUCTS) for row in parsed])
    elapsed = time.process_time() - started

    assert elapsed < 5.0, f"writing the report took {elapsed:.2f} CPU seconds"
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    summary = dict(workbook["汇总"].iter_rows(min_row=2, values_only=True))
    assert summary == {
        "总行数": 10_000,
        "新建": 10_000 - len(big.bad) - len(big.duplicates),
        "关联": len(big.duplicates),
        "拒绝": len(big.bad),
    }
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = "".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", xml)
    assert not re.search(r"(?<!\d)\d{17}[\dX](?!\d)", xml)
    workbook.close()


def test_control_characters_in_a_cell_are_dropped_and_never_break_the_report() -> None:
    parsed = parse_row(row(name="张\x00三丰\x1f", mobile="\x0713812345678"), **LOOKUPS)
    odd = ReportRow(2, ImportOutcome.REJECTED, "原因\x0b", "\x01张*", "\x02138****5678", "house", None)

    assert parsed.candidate is not None
    assert (parsed.candidate.name, parsed.candidate.mobile) == ("张三丰", "13812345678")
    lines = list(openpyxl.load_workbook(io.BytesIO(write_report([odd])))["导入结果"].iter_rows(values_only=True))
    assert lines[1][:5] == (2, "拒绝", "原因", "张*", "138****5678")
