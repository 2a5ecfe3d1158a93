"""Reading and checking the customers and leads a firm imports from Excel (.xlsx) or CSV: pure, no database.

Files arrive as firms keep them: a merged title row or two above the header, Chinese headers in several wordings,
amounts in 元 or 万元, numbers stored as text, full-width characters, blank rows, a totals row, dates in several
formats, and ID numbers that Excel turned into numbers (it keeps 15 significant digits, so the last digits of an
18-digit ID are gone). Three steps, each usable alone:

1. ``read_rows`` (or ``open_source``, which also describes the layout it found) finds the header row by its known
   Chinese column names and yields a ``SourceRow`` per data row: its 1-based row number in the sheet and its raw
   cells by canonical field name. Blank rows, totals rows (合计/总计/小计) and repeated header rows are skipped.
2. ``parse_row`` turns one row into a clean ``ImportCandidate`` or a list of ``FieldError`` (field, zh-CN reason).
   A reason never quotes the cell: the report is kept and must hold no personal data.
3. ``dedupe_within_file`` links a second row of the same person (same mobile or ID number) to the first one, and
   rejects a row that matches an earlier one by one key but contradicts it by another.

Whether a candidate matches a customer already in the database is the caller's business (blind-index lookups);
``import_report`` turns the outcome into the downloadable .xlsx report.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from loanbridge.common import clock
from loanbridge.common.pii.masking import mask_mobile, mask_name
from loanbridge.common.pii.validators import id_check_char, normalise_id_number, normalise_mobile

Origin = Literal["xlsx", "csv"]

# --------------------------------------------------------------------------------------------------------------------
# Columns: canonical field names and the Chinese headers firms write for them (most specific first: when two columns
# of one sheet mean the same field, the one whose header comes earlier in its tuple wins, then the leftmost).

HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "客户姓名", "客户名称", "借款人", "借款人姓名", "名字", "客户"),
    "mobile": ("手机号", "手机号码", "手机", "联系电话", "电话", "电话号码", "联系方式"),
    "id_number": ("身份证号", "身份证号码", "身份证", "证件号码", "证件号", "身份证件号码"),
    "product": ("产品", "贷款产品", "产品类型", "产品名称", "贷款类型", "业务类型"),
    "amount": ("贷款金额", "金额", "申请金额", "借款金额", "贷款额度", "申请额度"),
    "term_months": ("期限", "贷款期限", "借款期限", "申请期限", "期数"),
    "channel": ("渠道", "来源", "客户来源", "渠道来源", "进件渠道"),
    "salesperson": ("业务员", "跟进人", "客户经理", "负责人", "经办人", "归属人"),
    "note": ("备注", "说明"),
    "city": ("城市", "所在城市", "所在地", "地区", "所在地区"),
    "purpose": ("用途", "贷款用途", "借款用途", "资金用途"),
    "business_date": ("日期", "录入日期", "进件日期", "登记日期", "申请日期", "进件时间", "录入时间"),
}

# Fields read from a column whose header names a unit other than the default: 贷款金额(万元), 期限(年).
AMOUNT_IN_WAN = "amount_wan"
TERM_IN_YEARS = "term_years"
_LOGICAL_FIELD = {AMOUNT_IN_WAN: "amount", TERM_IN_YEARS: "term_months"}

FIELD_LABELS: dict[str, str] = {
    "name": "姓名",
    "mobile": "手机号",
    "id_number": "身份证号",
    "product": "产品",
    "amount": "贷款金额",
    "term_months": "期限",
    "channel": "渠道",
    "salesperson": "业务员",
    "note": "备注",
    "city": "城市",
    "purpose": "用途",
    "business_date": "日期",
}

HEADER_SEARCH_ROWS = 30  # the header must be among the first rows of a sheet
TOTAL_WORDS = frozenset({"合计", "总计", "小计", "总合计", "本页合计", "累计"})

MIN_AMOUNT = Decimal("1000")  # yuan: below it the sheet almost surely meant 万元
MAX_AMOUNT = Decimal("100000000")  # 1 亿 yuan: above it the sheet almost surely meant 元 under a 万元 header
MAX_TERM_MONTHS = 360
EARLIEST_BUSINESS_DATE = date(1990, 1, 1)
MAX_NAME_LENGTH = 50
MAX_TEXT_LENGTH = {"note": 500, "purpose": 200}

# Products by what firms call them, for the default product codes (a product's own code and its configured
# Chinese name are always accepted too).
PRODUCT_ALIASES: dict[str, str] = {
    **dict.fromkeys(("房抵贷", "房产抵押", "房产抵押贷", "房产抵押贷款", "房屋抵押", "房屋抵押贷款", "房抵"), "house"),
    **dict.fromkeys(("信抵贷", "信用贷", "信用贷款", "信贷"), "credit"),
    **dict.fromkeys(("车抵贷", "车辆抵押", "车辆抵押贷", "车辆抵押贷款", "车抵", "车贷"), "car"),
}

# The reason every ID number Excel stored as a number is reported with (its last digits are gone).
ID_STORED_AS_NUMBER = "身份证号被 Excel 存为数字,后几位已丢失"
ID_STORED_AS_NUMBER_CSV = (
    ID_STORED_AS_NUMBER + "(CSV 中以 000 结尾的身份证号无法确认是否完整;如号码确实如此,请用 .xlsx 文本格式导入)"
)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (wrong type, damaged, no header row, a required column missing).

    ``str(error)`` is a zh-CN message for the uploader; it never quotes the file's content.
    """


class FieldError(NamedTuple):
    """One problem with one field of a row: the canonical field name and a zh-CN reason that quotes no value."""

    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row as read: its 1-based row number in the sheet (the CSV record number) and its raw cells.

    ``cells`` maps each canonical field whose column the file has to the raw value: ``None`` for an empty cell,
    otherwise what the file holds (xlsx: str, int, float, bool, datetime…; CSV: str). A column whose header names
    万元 is under ``amount_wan``, one whose header names 年 under ``term_years``.
    """

    row_number: int
    cells: Mapping[str, Any]
    origin: Origin = "xlsx"


@dataclass(frozen=True, slots=True)
class SourceLayout:
    """What ``open_source`` found: the sheet, the header row, the columns it reads and the ones it ignores."""

    origin: Origin
    sheet: str | None  # None for CSV
    header_row: int
    columns: Mapping[str, str]  # canonical field → the header as written in the file
    ignored_headers: tuple[str, ...]  # headers not understood, or a second column for a field already read
    skipped_sheets: tuple[str, ...] = ()  # other sheets of the workbook, not imported


@dataclass(frozen=True, slots=True)
class ImportCandidate:
    """A row that passed every check, in the form intake stores: normalised values, amounts in yuan."""

    name: str
    mobile: str | None
    id_number: str | None
    product: str
    amount: Decimal  # yuan, to the fen
    term_months: int
    channel: str | None  # a channel code; None when the file has no channel for this row
    city: str | None  # one of the configured cities; None when the file has none for this row
    salesperson_id: str | None
    note: str | None
    purpose: str | None
    business_date: date | None


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A checked row: a candidate, or the errors that reject it (never both).

    ``masked_name`` / ``masked_mobile`` / ``product`` / ``amount`` are what the report may show even for a
    rejected row (masked, or not personal). ``duplicate_of`` is the row number of the first row of the same person
    in this file (set by ``dedupe_within_file``): the commit links this row to that row's customer.
    """

    row_number: int
    candidate: ImportCandidate | None
    errors: tuple[FieldError, ...] = ()
    duplicate_of: int | None = None
    masked_name: str = ""
    masked_mobile: str = ""
    product: str | None = None
    amount: Decimal | None = None

    @property
    def ok(self) -> bool:
        """Whether the row can be imported."""
        return not self.errors

    @property
    def reason(self) -> str:
        """The errors as one zh-CN sentence for the report ("身份证号: …;贷款金额: …"), or the duplicate note."""
        if self.errors:
            return describe_errors(self.errors)
        if self.duplicate_of is not None:
            return duplicate_reason(self.duplicate_of)
        return ""


def describe_errors(errors: Iterable[FieldError]) -> str:
    """Errors joined for a report cell: each reason prefixed with its field's Chinese label."""
    return ";".join(f"{FIELD_LABELS.get(error.field, error.field)}: {error.reason}" for error in errors)


def duplicate_reason(first_row: int) -> str:
    """The report's note for the second row of a person in the same file."""
    return f"与第 {first_row} 行重复"


# --------------------------------------------------------------------------------------------------------------------
# Text cleaning

_INVISIBLE = dict.fromkeys(
    [*map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\x7f"), *(code for code in range(32) if chr(code) not in "\t\n\r")],
    None,
)  # zero-width characters, soft hyphens and control characters (which an .xlsx cannot even hold)
_WHITESPACE = re.compile(r"\s+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_EXCEL_TEXT_FORMULA = re.compile(r'^="(.*)"$', re.DOTALL)  # ="370102…" keeps digits as text in a CSV
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d*)?[eE][+-]?\d+$")


def _clean(value: Any, *, nfkc: bool = True) -> str:
    """A cell as stripped text: full-width forms folded (NFKC), invisible characters dropped, numbers unformatted."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.translate(_INVISIBLE)
        if nfkc:
            text = unicodedata.normalize("NFKC", text)
        text = text.strip()
        match = _EXCEL_TEXT_FORMULA.match(text)
        return match.group(1).strip() if match else text
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"  # as Excel shows it
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _compact(text: str) -> str:
    """Text without any whitespace (numbers, codes, IDs)."""
    return _WHITESPACE.sub("", text)


def _person_name(text: str) -> str:
    """A person's name: spaces between Chinese characters removed, other runs of spaces collapsed to one."""
    return _WHITESPACE.sub(" ", _SPACE_BETWEEN_CJK.sub("", text)).strip()


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not _clean(value))


# --------------------------------------------------------------------------------------------------------------------
# Headers

_HEADER_NOISE = re.compile(r"[\s*:#※]")
_UNIT_SUFFIX = re.compile(r"[(\[【]\s*(?:单位)?[:]?\s*([^)\]】]*)[)\]】]$")
_UNIT_WORDS = ("万元", "万", "元", "人民币", "个月", "月", "年", "期")
_HEADER_LOOKUP: dict[str, tuple[str, int]] = {
    name: (canonical, rank) for canonical, names in HEADER_NAMES.items() for rank, name in enumerate(names)
}


def field_for_header(header: Any) -> tuple[str, int] | None:
    """The canonical field a header names, with its rank among that field's names (lower is more specific).

    Understands units in brackets or after a slash: 贷款金额(万元), 金额（万元）, 金额/万元, 金额万元 and a bare 万元
    give ``amount_wan``; 期限(月) gives ``term_months``; 期限(年) gives ``term_years``.
    """
    key = _HEADER_NOISE.sub("", _clean(header)).lower()
    if not key:
        return None
    if key in ("万元", "金额万元"):
        return AMOUNT_IN_WAN, 0
    base, unit = key, ""
    match = _UNIT_SUFFIX.search(key)
    if match:
        base, unit = key[: match.start()], match.group(1)
    elif "/" in key:
        base, unit = key.rsplit("/", 1)
    else:
        for word in _UNIT_WORDS:
            if key.endswith(word) and key[: -len(word)] in _HEADER_LOOKUP:
                base, unit = key[: -len(word)], word
                break
    found = _HEADER_LOOKUP.get(base)
    if found is None:
        return None
    canonical, rank = found
    if canonical == "amount":
        if unit in ("万元", "万", "万元人民币"):
            return AMOUNT_IN_WAN, rank
        return (canonical, rank) if unit in ("", "元", "人民币", "人民币元", "rmb") else None
    if canonical == "term_months":
        if unit == "年":
            return TERM_IN_YEARS, rank
        return (canonical, rank) if unit in ("", "月", "个月", "期") else None
    return (canonical, rank) if not unit else None


def _columns_of(header: tuple[Any, ...]) -> tuple[dict[str, int], list[str]]:
    """Which column holds which field (the most specific header wins), and the headers left unread."""
    best: dict[str, tuple[int, int, str]] = {}  # logical field → (rank, column, canonical field)
    ignored: list[str] = []
    for column, cell in enumerate(header):
        text = _clean(cell)
        if not text:
            continue
        found = field_for_header(cell)
        if found is None:
            ignored.append(text)
            continue
        canonical, rank = found
        logical = _LOGICAL_FIELD.get(canonical, canonical)
        current = best.get(logical)
        if current is None or rank < current[0]:
            if current is not None:
                ignored.append(_clean(header[current[1]]))
            best[logical] = (rank, column, canonical)
        else:
            ignored.append(text)
    return {canonical: column for _, column, canonical in best.values()}, ignored


def _is_header(columns: Mapping[str, int]) -> bool:
    return "name" in columns and len(columns) >= 3


def _missing_columns(columns: Mapping[str, int]) -> list[str]:
    present = {_LOGICAL_FIELD.get(name, name) for name in columns}
    missing = [
        f"{FIELD_LABELS[name]}(如 {'、'.join(HEADER_NAMES[name][:3])})"
        for name in ("name", "product", "amount", "term_months")
        if name not in present
    ]
    if not present & {"mobile", "id_number"}:
        missing.append("手机号或身份证号(至少一列)")
    return missing


# --------------------------------------------------------------------------------------------------------------------
# Reading files


def read_rows(filename: str, content: bytes) -> Iterator[SourceRow]:
    """The data rows of an .xlsx or .csv file, header found by its Chinese column names.

    Raises ``ImportFileError`` (zh-CN) at once when the file cannot be read, has no recognisable header row in its
    first rows, or lacks a required column (姓名, 产品, 贷款金额, 期限, and 手机号 or 身份证号).
    """
    _, rows = open_source(filename, content)
    return rows


def open_source(filename: str, content: bytes) -> tuple[SourceLayout, Iterator[SourceRow]]:
    """Like ``read_rows``, and also the layout found (sheet, header row, columns read and ignored) for the UI."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix in ("xlsx", "xlsm"):
        return _open_xlsx(content)
    if suffix in ("csv", "txt"):
        return _open_csv(content)
    if suffix == "xls":
        raise ImportFileError("不支持旧版 .xls 文件,请在 Excel 中另存为 .xlsx 后再导入")
    raise ImportFileError("只支持 .xlsx 和 .csv 文件")


def _open_xlsx(content: bytes) -> tuple[SourceLayout, Iterator[SourceRow]]:
    import openpyxl  # imported here: only .xlsx needs it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError("文件不是有效的 .xlsx 文件,请用 Excel 打开后另存为 .xlsx 再导入") from exc
    try:
        sheets = list(workbook.worksheets)
        for sheet in sheets:
            sheet.reset_dimensions()  # some writers record a wrong size; read the rows that are there
            values = sheet.iter_rows(values_only=True)
            found = _find_header(values)
            if found is None:
                values.close()
                continue
            header_row, columns, ignored, buffered = found
            missing = _missing_columns(columns)
            if missing:
                raise ImportFileError(f"工作表“{sheet.title}”缺少必需的列:{'、'.join(missing)}")
            layout = SourceLayout(
                origin="xlsx",
                sheet=sheet.title,
                header_row=header_row,
                columns={name: _clean(found_header) for name, found_header in _header_texts(buffered, columns)},
                ignored_headers=tuple(ignored),
                skipped_sheets=tuple(other.title for other in sheets if other is not sheet),
            )
            epoch_1904 = workbook.epoch.year == 1904
            rows = _data_rows(buffered, values, header_row, columns, "xlsx", epoch_1904=epoch_1904)
            return layout, _closing(rows, workbook)
    except BaseException:
        workbook.close()
        raise
    workbook.close()
    raise ImportFileError(f"未找到表头行:前 {HEADER_SEARCH_ROWS} 行中没有包含“姓名”“手机号”“产品”等列名的行")


def _closing(rows: Iterator[SourceRow], workbook: Any) -> Iterator[SourceRow]:
    try:
        yield from rows
    finally:
        workbook.close()


def _decode(content: bytes) -> str:
    """CSV text: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), else GB18030 (⊇ GBK)."""
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ImportFileError("无法识别 CSV 文件的编码,请另存为 UTF-8 或 GBK 编码的 CSV") from exc


def _open_csv(content: bytes) -> tuple[SourceLayout, Iterator[SourceRow]]:
    text = _decode(content)
    sample = text[:8192]
    delimiter = max(",\t;", key=sample.count) if sample else ","
    try:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        records: Iterator[tuple[Any, ...]] = (tuple(record) for record in reader)
        found = _find_header(records)
    except csv.Error as exc:
        raise ImportFileError("CSV 文件格式不正确,无法读取") from exc
    if found is None:
        raise ImportFileError(f"未找到表头行:前 {HEADER_SEARCH_ROWS} 行中没有包含“姓名”“手机号”“产品”等列名的行")
    header_row, columns, ignored, buffered = found
    missing = _missing_columns(columns)
    if missing:
        raise ImportFileError(f"文件缺少必需的列:{'、'.join(missing)}")
    layout = SourceLayout(
        origin="csv",
        sheet=None,
        header_row=header_row,
        columns={name: _clean(found_header) for name, found_header in _header_texts(buffered, columns)},
        ignored_headers=tuple(ignored),
    )
    return layout, _csv_rows(_data_rows(buffered, records, header_row, columns, "csv"))


def _csv_rows(rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
    try:
        yield from rows
    except csv.Error as exc:
        raise ImportFileError("CSV 文件格式不正确,无法读取") from exc


def _find_header(
    rows: Iterator[tuple[Any, ...]],
) -> tuple[int, dict[str, int], list[str], list[tuple[Any, ...]]] | None:
    """Scan the first rows for the header: its row number, columns, ignored headers, and the rows read so far."""
    buffered: list[tuple[Any, ...]] = []
    for row in itertools.islice(rows, HEADER_SEARCH_ROWS):
        buffered.append(row)
        columns, ignored = _columns_of(row)
        if _is_header(columns):
            return len(buffered), columns, ignored, buffered
    return None


def _header_texts(buffered: list[tuple[Any, ...]], columns: Mapping[str, int]) -> Iterator[tuple[str, Any]]:
    header = buffered[-1]
    for name, column in columns.items():
        yield name, header[column]


def _data_rows(
    buffered: list[tuple[Any, ...]],
    rest: Iterator[tuple[Any, ...]],
    header_row: int,
    columns: Mapping[str, int],
    origin: Origin,
    *,
    epoch_1904: bool = False,
) -> Iterator[SourceRow]:
    header_keys = {column: _HEADER_NOISE.sub("", _clean(buffered[-1][column])) for column in columns.values()}
    date_column = columns.get("business_date")
    for row_number, row in enumerate(rest, start=header_row + 1):
        if not row or all(_is_blank(value) for value in row):
            continue
        if _is_totals_row(row):
            continue
        cells = {name: (row[column] if column < len(row) else None) for name, column in columns.items()}
        if all(_HEADER_NOISE.sub("", _clean(cells[name])) == header_keys[column] for name, column in columns.items()):
            continue  # the header again (sheets pasted one under another)
        cells = {name: (None if _is_blank(value) else value) for name, value in cells.items()}
        if epoch_1904 and date_column is not None:
            cells["business_date"] = _from_1904_serial(cells["business_date"])
        yield SourceRow(row_number=row_number, cells=cells, origin=origin)


def _is_totals_row(row: tuple[Any, ...]) -> bool:
    """A 合计/总计/小计 row: one of those words alone in a cell (spaces and a colon allowed)."""
    for value in row:
        if isinstance(value, str) and len(value) <= 12:
            word = _compact(_clean(value)).rstrip(":")
            if word in TOTAL_WORDS:
                return True
    return False


def _from_1904_serial(value: Any) -> Any:
    """A serial date of a 1904-based workbook as a datetime (parse_row reads bare serials as 1900-based)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2958466:
        return datetime(1904, 1, 1) + timedelta(days=float(value))
    return value


# --------------------------------------------------------------------------------------------------------------------
# Checking one row


def parse_row(
    row: SourceRow,
    *,
    cities: Collection[str],
    products: Mapping[str, str] | Collection[str],
    channels_by_name_or_code: Mapping[str, str],
    staff_by_name: Mapping[str, str],
    default_channel: str | None = None,
    default_city: str | None = None,
) -> ParsedRow:
    """Check one row and answer a clean candidate or every error found (field, zh-CN reason).

    - ``cities``: the configured city names (e.g. ``SHANDONG_CITIES``); "济南市" and "山东省济南市" mean 济南.
    - ``products``: code → Chinese name (e.g. ``DEFAULT_PRODUCTS``) or just the codes; a cell may hold the code,
      the configured name, or a common alias (房产抵押 → house, 信用贷 → credit, 车辆抵押 → car).
    - ``channels_by_name_or_code``: every channel's code and Chinese name → its code.
    - ``staff_by_name``: staff display name → user id (leave out names two staff share); an unknown name is an
      error, an empty cell gives no salesperson.
    - ``default_channel`` / ``default_city``: what the uploader chose for rows whose cell is empty; without
      one, such a row's channel / city is None (not an error here).

    A row needs a name, a mobile or an ID number, a product, an amount and a term; every value present is checked.
    """
    cells = row.cells
    errors: list[FieldError] = []

    raw_name = cells.get("name")
    name = _person_name(_clean(raw_name))
    if not name:
        errors.append(FieldError("name", "缺少姓名"))
    elif not isinstance(raw_name, str):  # a number or a date cell under 姓名: the columns are off
        errors.append(FieldError("name", "姓名含有数字或符号,请检查是否填错了列"))
    elif len(name) > MAX_NAME_LENGTH:
        errors.append(FieldError("name", f"姓名过长(最多 {MAX_NAME_LENGTH} 个字)"))
    elif not _NAME_PATTERN.fullmatch(name):
        errors.append(FieldError("name", "姓名含有数字或符号,请检查是否填错了列"))

    mobile, mobile_text = _mobile(cells.get("mobile"), errors)
    id_number = _id_number(cells.get("id_number"), row.origin, errors)
    if cells.get("mobile") is None and cells.get("id_number") is None:
        errors.append(FieldError("mobile", "手机号和身份证号至少填写一项"))

    product = _product(cells.get("product"), products, errors)
    amount = _amount(cells, errors)
    term_months = _term(cells, errors)
    channel = _channel(cells.get("channel"), channels_by_name_or_code, default_channel, errors)
    city = _city(cells.get("city"), cities, default_city, errors)
    salesperson_id = _salesperson(cells.get("salesperson"), staff_by_name, errors)
    note = _free_text("note", cells.get("note"), errors)
    purpose = _free_text("purpose", cells.get("purpose"), errors)
    business_date = _business_date(cells.get("business_date"), errors)

    shown = {
        "row_number": row.row_number,
        "masked_name": mask_name(name) if name else "",
        "masked_mobile": mask_mobile(mobile or _compact(mobile_text)) if mobile_text else "",
        "product": product,
        "amount": amount,
    }
    if errors:
        return ParsedRow(candidate=None, errors=tuple(errors), **shown)
    assert product is not None and amount is not None and term_months is not None
    candidate = ImportCandidate(
        name=name,
        mobile=mobile,
        id_number=id_number,
        product=product,
        amount=amount,
        term_months=term_months,
        channel=channel,
        city=city,
        salesperson_id=salesperson_id,
        note=note,
        purpose=purpose,
        business_date=business_date,
    )
    return ParsedRow(candidate=candidate, **shown)


_NAME_PATTERN = re.compile(rf"[{_CJK}A-Za-z·•・.\- ]+")
_MOBILE_LIKE = re.compile(r"1\d{10}")


def _mobile(raw: Any, errors: list[FieldError]) -> tuple[str | None, str]:
    """The normalised mobile (or None) and the cleaned text, for masking even when invalid."""
    if raw is None:
        return None, ""
    if isinstance(raw, bool):
        errors.append(FieldError("mobile", "手机号格式不正确,应为 11 位中国大陆手机号"))
        return None, ""
    text = _clean(raw)
    compact = _compact(text)
    if _SCIENTIFIC.match(compact):
        errors.append(FieldError("mobile", "手机号被 Excel 存为科学计数法,数字已丢失,请将该列设为文本后重新填写"))
        return None, text
    if len(_MOBILE_LIKE.findall(compact)) > 1:
        errors.append(FieldError("mobile", "一个单元格只能填写一个手机号"))
        return None, text
    try:
        return normalise_mobile(compact), text
    except ValueError as exc:
        errors.append(FieldError("mobile", str(exc)))
        return None, text


def _id_number(raw: Any, origin: Origin, errors: list[FieldError]) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        errors.append(FieldError("id_number", ID_STORED_AS_NUMBER))
        return None
    text = _compact(_clean(raw))
    if _SCIENTIFIC.match(text):
        errors.append(FieldError("id_number", ID_STORED_AS_NUMBER))
        return None
    if re.fullmatch(r"\d{15}000", text):
        # Excel keeps 15 significant digits and writes zeros after them. A CSV cannot say whether the cell was
        # text, so any such number is refused there; in an .xlsx text cell only a failed check digit gives it away.
        if origin == "csv":
            errors.append(FieldError("id_number", ID_STORED_AS_NUMBER_CSV))
            return None
        if id_check_char(text[:17]) != "0":
            errors.append(FieldError("id_number", ID_STORED_AS_NUMBER))
            return None
    try:
        return normalise_id_number(text)
    except ValueError as exc:
        errors.append(FieldError("id_number", str(exc)))
        return None


def _product(raw: Any, products: Mapping[str, str] | Collection[str], errors: list[FieldError]) -> str | None:
    text = _compact(_clean(raw))
    if not text:
        errors.append(FieldError("product", "缺少产品"))
        return None
    codes = products.keys() if isinstance(products, Mapping) else products
    lowered = text.lower()
    if lowered in codes:
        return lowered
    if text in codes:
        return text
    if isinstance(products, Mapping):
        for code, label in products.items():
            if _compact(label) == text:
                return code
    alias = PRODUCT_ALIASES.get(text)
    if alias is not None and alias in codes:
        return alias
    known = "、".join(products.values()) if isinstance(products, Mapping) else "、".join(codes)
    errors.append(FieldError("product", f"产品无法识别,应为 {known} 之一或产品代码"))
    return None


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_AMOUNT_NOISE = re.compile(r"[,¥$]|人民币|rmb", re.IGNORECASE)
_FEN = Decimal("0.01")
_TEN_THOUSAND = Decimal(10000)


def _decimal(raw: Any) -> Decimal | None:
    """A numeric cell as a Decimal (floats read at Excel's 15 significant digits); None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(format(raw, ".15g")) if raw == raw and abs(raw) != float("inf") else None
    if isinstance(raw, Decimal):
        return raw if raw.is_finite() else None
    return None


def _amount(cells: Mapping[str, Any], errors: list[FieldError]) -> Decimal | None:
    in_wan = cells.get("amount") is None and cells.get(AMOUNT_IN_WAN) is not None
    raw = cells.get(AMOUNT_IN_WAN) if in_wan else cells.get("amount")
    if raw is None:
        errors.append(FieldError("amount", "缺少贷款金额"))
        return None
    value = _decimal(raw)
    if value is None:
        text = _AMOUNT_NOISE.sub("", _compact(_clean(raw)))
        for suffix, wan in (("万元", True), ("万", True), ("w", True), ("W", True), ("元", False)):
            if text.endswith(suffix):
                text, in_wan = text[: -len(suffix)], wan
                break
        if _NUMBER.fullmatch(text):
            value = Decimal(text)
        elif text.startswith("-") and _NUMBER.fullmatch(text[1:]):
            value = -Decimal(text[1:])
        else:
            errors.append(FieldError("amount", "贷款金额不是有效的数字"))
            return None
    if in_wan:
        value *= _TEN_THOUSAND
    if value <= 0:
        errors.append(FieldError("amount", "贷款金额必须大于 0"))
        return None
    if not MIN_AMOUNT <= value <= MAX_AMOUNT:  # before quantize, which cannot hold a huge number to the fen
        errors.append(FieldError("amount", "贷款金额超出合理范围(1000 元至 1 亿元),请确认单位是元还是万元"))
        return None
    if value != value.quantize(_FEN):
        errors.append(FieldError("amount", "贷款金额最多精确到分"))
        return None
    return value.quantize(_FEN)


_TERM_MONTHS = re.compile(r"(\d+(?:\.0+)?)(?:期|个月|月)?")
_TERM_YEARS = re.compile(r"(\d+(?:\.\d+)?)年")
_TERM_YEARS_MONTHS = re.compile(r"(\d+)年(?:零)?(\d+)个?月")


def _term(cells: Mapping[str, Any], errors: list[FieldError]) -> int | None:
    in_years = cells.get("term_months") is None and cells.get(TERM_IN_YEARS) is not None
    raw = cells.get(TERM_IN_YEARS) if in_years else cells.get("term_months")
    if raw is None:
        errors.append(FieldError("term_months", "缺少期限"))
        return None
    months: Decimal | None = None
    number = _decimal(raw)
    if number is not None:
        months = number * 12 if in_years else number
    else:
        text = _compact(_clean(raw))
        if match := _TERM_YEARS_MONTHS.fullmatch(text):
            months = Decimal(match.group(1)) * 12 + Decimal(match.group(2))
        elif match := _TERM_YEARS.fullmatch(text):
            months = Decimal(match.group(1)) * 12
        elif match := _TERM_MONTHS.fullmatch(text):
            explicit_months = text != match.group(1)
            months = Decimal(match.group(1)) * (12 if in_years and not explicit_months else 1)
    if months is None or months != months.to_integral_value():
        errors.append(FieldError("term_months", "期限无法识别,应为月数(如 36、36期)或年数(如 3年)"))
        return None
    if not 1 <= months <= MAX_TERM_MONTHS:
        errors.append(FieldError("term_months", f"期限应在 1 到 {MAX_TERM_MONTHS} 个月之间"))
        return None
    return int(months)


def _channel(raw: Any, channels: Mapping[str, str], default: str | None, errors: list[FieldError]) -> str | None:
    text = _compact(_clean(raw))
    if not text:
        return default
    code = channels.get(text) or channels.get(text.lower())
    if code is None:
        errors.append(FieldError("channel", "渠道未登记,请先在渠道管理中添加,或改为已有渠道的名称或代码"))
    return code


_PROVINCE_PREFIX = re.compile(r"^[^省]{2,7}省")


def _city(raw: Any, cities: Collection[str], default: str | None, errors: list[FieldError]) -> str | None:
    text = _compact(_clean(raw))
    if not text:
        return default
    if text in cities:
        return text
    text = _PROVINCE_PREFIX.sub("", text)
    if text.startswith("山东") and text not in cities:
        text = text[2:]
    for option in (text, text.split("市", 1)[0]):
        if option in cities:
            return option
    errors.append(FieldError("city", "城市不在已配置的城市中(如 济南、青岛,可带“市”字)"))
    return None


def _salesperson(raw: Any, staff_by_name: Mapping[str, str], errors: list[FieldError]) -> str | None:
    text = _person_name(_clean(raw))
    if not text:
        return None
    user_id = staff_by_name.get(text)
    if user_id is None:
        errors.append(FieldError("salesperson", "业务员不是系统中的员工(或有重名),请核对姓名,或清空该列后导入"))
    return user_id


def _free_text(field_name: str, raw: Any, errors: list[FieldError]) -> str | None:
    text = _clean(raw, nfkc=False)
    if not text:
        return None
    limit = MAX_TEXT_LENGTH[field_name]
    if len(text) > limit:
        errors.append(FieldError(field_name, f"{FIELD_LABELS[field_name]}过长(最多 {limit} 个字)"))
        return None
    return text


_DATE_TEXT = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # a time after the date is ignored
)
_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_EXCEL_1900 = datetime(1899, 12, 30)  # serial 0 of Excel's 1900 system, past its fictitious 1900-02-29
_BAD_DATE = "日期无法识别,支持 2026-03-01、2026/3/1、2026年3月1日、20260301 或 Excel 日期格式"


def _business_date(raw: Any, errors: list[FieldError]) -> date | None:
    if raw is None:
        return None
    day = _date_of(raw)
    if day is None:
        errors.append(FieldError("business_date", _BAD_DATE))
        return None
    if day < EARLIEST_BUSINESS_DATE:
        errors.append(FieldError("business_date", "日期早于 1990 年,不合理"))
        return None
    if day > clock.business_date(clock.now()):
        errors.append(FieldError("business_date", "日期晚于今天"))
        return None
    return day


def _date_of(raw: Any) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, time | bool):
        return None
    if isinstance(raw, int | float | Decimal):
        if isinstance(raw, Decimal) and not raw.is_finite():
            return None
        number = float(raw)
        if number.is_integer() and 19000101 <= number <= 29991231:
            return _ymd(*_divmod_date(int(number)))
        if 1 <= number < 2958466:
            return (_EXCEL_1900 + timedelta(days=int(number))).date()
        return None
    text = _clean(raw)
    if match := _DATE_TEXT.fullmatch(text):
        return _ymd(*(int(part) for part in match.groups()))
    if match := _DATE_DIGITS.fullmatch(text):
        return _ymd(*(int(part) for part in match.groups()))
    if _SERIAL.fullmatch(text):
        return _date_of(float(text))
    return None


def _divmod_date(number: int) -> tuple[int, int, int]:
    # 20260301 → (2026, 3, 1)
    return number // 10000, number // 100 % 100, number % 100


def _ymd(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------------------------
# Duplicates within one file


def dedupe_within_file(rows: Iterable[ParsedRow]) -> list[ParsedRow]:
    """Link each later row of the same person to the first one; reject rows that contradict an earlier one.

    Rows are the same person when they share an ID number, or a mobile. A later row gets ``duplicate_of`` = the
    first row's number (reported as 与第 N 行重复; the commit links it to that row's customer). A row that shares a
    key with an earlier row but gives a different ID number or name, or whose ID number and mobile point to two
    different earlier people, is rejected instead: importing it would merge two people. Rejected rows take no part.
    The rows come back in the order given.
    """
    first_by_id: dict[str, int] = {}
    first_by_mobile: dict[str, int] = {}
    person_id: dict[int, str] = {}  # first row → the ID number known for that person
    person_name: dict[int, str] = {}
    result: list[ParsedRow] = []
    for row in rows:
        candidate = row.candidate
        if candidate is None:
            result.append(row)
            continue
        by_id = first_by_id.get(candidate.id_number) if candidate.id_number else None
        by_mobile = first_by_mobile.get(candidate.mobile) if candidate.mobile else None
        first = by_id if by_id is not None else by_mobile
        if first is None:
            first = row.row_number
            person_name[first] = candidate.name
            if candidate.id_number:
                person_id[first] = candidate.id_number
                first_by_id[candidate.id_number] = first
            if candidate.mobile:
                first_by_mobile[candidate.mobile] = first
            result.append(row)
            continue
        conflict = _conflict(candidate, first, by_id, by_mobile, person_id, person_name)
        if conflict is not None:
            result.append(replace(row, candidate=None, errors=(conflict,)))
            continue
        if candidate.id_number and first not in person_id:
            person_id[first] = candidate.id_number
            first_by_id.setdefault(candidate.id_number, first)
        if candidate.mobile:
            first_by_mobile.setdefault(candidate.mobile, first)
        result.append(replace(row, duplicate_of=first))
    return result


def _conflict(
    candidate: ImportCandidate,
    first: int,
    by_id: int | None,
    by_mobile: int | None,
    person_id: Mapping[int, str],
    person_name: Mapping[int, str],
) -> FieldError | None:
    if by_id is not None and by_mobile is not None and by_id != by_mobile:
        return FieldError("mobile", f"身份证号与第 {by_id} 行相同,手机号却与第 {by_mobile} 行相同,无法确定是哪位客户")
    known_id = person_id.get(first)
    if candidate.id_number and known_id and candidate.id_number != known_id:
        return FieldError("id_number", f"手机号与第 {first} 行相同,身份证号却不同,请核对是否为同一人")
    if candidate.name != person_name[first]:
        field_name = "id_number" if by_id is not None else "mobile"
        return FieldError("name", f"{FIELD_LABELS[field_name]}与第 {first} 行相同,姓名却不同,请核对是否为同一人")
    return None


__all__ = [
    "AMOUNT_IN_WAN",
    "FIELD_LABELS",
    "HEADER_NAMES",
    "ID_STORED_AS_NUMBER",
    "PRODUCT_ALIASES",
    "TERM_IN_YEARS",
    "FieldError",
    "ImportCandidate",
    "ImportFileError",
    "ParsedRow",
    "SourceLayout",
    "SourceRow",
    "dedupe_within_file",
    "describe_errors",
    "duplicate_reason",
    "field_for_header",
    "open_source",
    "parse_row",
    "read_rows",
]
