"""The per-row report of an import, as a downloadable .xlsx with Chinese headers and no personal data in clear.

One ``ReportRow`` per data row of the file: what the dry run says will happen (将新建 / 将关联已有客户 / 拒绝) or
what the commit did (已新建 / 已关联), why, and only masked personal data (张*, 138****5678). ``write_report``
builds the workbook: a 导入结果 sheet with a row per data row and a 汇总 sheet with the counts.
"""

from __future__ import annotations

import enum
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from loanbridge.common.pii.masking import mask_id_number, mask_mobile, mask_name
from loanbridge.intake.domain.imports import ParsedRow


class ImportOutcome(enum.StrEnum):
    """What happens to a row: in the dry run (will_*), after the commit (created / linked), or rejected."""

    WILL_CREATE = "will_create"
    WILL_LINK = "will_link"
    REJECTED = "rejected"
    CREATED = "created"
    LINKED = "linked"

    @property
    def label(self) -> str:
        """The zh-CN word the report shows."""
        return OUTCOME_LABELS[self]


OUTCOME_LABELS: dict[ImportOutcome, str] = {
    ImportOutcome.WILL_CREATE: "将新建",
    ImportOutcome.WILL_LINK: "将关联已有客户",
    ImportOutcome.REJECTED: "拒绝",
    ImportOutcome.CREATED: "已新建",
    ImportOutcome.LINKED: "已关联",
}

EXISTING_CUSTOMER_REASON = "与系统中已有客户为同一人(手机号或身份证号相同)"

RESULT_SHEET = "导入结果"
SUMMARY_SHEET = "汇总"
HEADERS = ("行号", "结果", "原因", "姓名(脱敏)", "手机号(脱敏)", "产品", "金额(元)")
COLUMN_WIDTHS = (8, 16, 60, 12, 16, 10, 16)
SUMMARY_LABELS = ("总行数", "新建", "关联", "拒绝")


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One line of the report. Personal fields are already masked; ``write_report`` masks them again to be sure."""

    row_number: int
    outcome: ImportOutcome
    reason: str = ""
    masked_name: str = ""
    masked_mobile: str = ""
    product: str = ""  # the product's Chinese name, else its code
    amount: Decimal | None = None  # yuan

    @classmethod
    def from_parsed(
        cls,
        row: ParsedRow,
        *,
        outcome: ImportOutcome | None = None,
        reason: str | None = None,
        product_names: Mapping[str, str] | None = None,
    ) -> ReportRow:
        """The report line of a checked row.

        Without ``outcome``: 拒绝 for a row with errors, 将关联已有客户 for a later row of a person already in the
        file, else 将新建. The caller passes ``outcome=ImportOutcome.WILL_LINK`` (and, say,
        ``reason=EXISTING_CUSTOMER_REASON``) for a row whose person is already a customer, and the committed
        outcomes after the commit. Without ``reason``: the row's errors, or its 与第 N 行重复 note.
        """
        if outcome is None:
            if not row.ok:
                outcome = ImportOutcome.REJECTED
            elif row.duplicate_of is not None:
                outcome = ImportOutcome.WILL_LINK
            else:
                outcome = ImportOutcome.WILL_CREATE
        product = row.product or ""
        if product and product_names:
            product = product_names.get(product, product)
        return cls(
            row_number=row.row_number,
            outcome=outcome,
            reason=row.reason if reason is None else reason,
            masked_name=row.masked_name,
            masked_mobile=row.masked_mobile,
            product=product,
            amount=row.amount,
        )


def summarise(rows: Iterable[ReportRow]) -> dict[str, int]:
    """The counts of the 汇总 sheet: 总行数, 新建, 关联, 拒绝 (a dry run's will_* count with the committed ones)."""
    counts = Counter(row.outcome for row in rows)
    return {
        "总行数": sum(counts.values()),
        "新建": counts[ImportOutcome.WILL_CREATE] + counts[ImportOutcome.CREATED],
        "关联": counts[ImportOutcome.WILL_LINK] + counts[ImportOutcome.LINKED],
        "拒绝": counts[ImportOutcome.REJECTED],
    }


_LONG_DIGITS = re.compile(r"\d{7,}[\dXx]?")


def _scrub(text: str) -> str:
    """Mask any run of 7+ digits (a mobile or ID number a caller's reason might carry) in free text."""
    return _LONG_DIGITS.sub(lambda match: mask_id_number(match.group()), text)


def write_report(rows: list[ReportRow]) -> bytes:
    """The report as .xlsx bytes: sheet 导入结果 (行号, 结果, 原因, 姓名(脱敏), 手机号(脱敏), 产品, 金额(元)),
    ordered by row number, and sheet 汇总 (总行数, 新建, 关联, 拒绝).

    Names and mobiles are masked again here (masking is idempotent) and long digit runs in reasons are masked, so
    the report never holds a name, mobile or ID number in clear. Text is always written as text, never as a formula.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(RESULT_SHEET)
    for index, width in enumerate(COLUMN_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_text_cell(sheet, header, font=bold) for header in HEADERS])
    for row in sorted(rows, key=lambda item: item.row_number):
        amount = WriteOnlyCell(sheet, value=row.amount)
        amount.number_format = "#,##0.00"
        sheet.append(
            [
                row.row_number,
                _text_cell(sheet, row.outcome.label),
                _text_cell(sheet, _scrub(row.reason)),
                _text_cell(sheet, mask_name(_legal(row.masked_name))),
                _text_cell(sheet, mask_mobile(_legal(row.masked_mobile)) if _legal(row.masked_mobile) else ""),
                _text_cell(sheet, row.product),
                amount,
            ]
        )

    summary = workbook.create_sheet(SUMMARY_SHEET)
    summary.column_dimensions["A"].width = 12
    summary.column_dimensions["B"].width = 12
    summary.append([_text_cell(summary, "项目", font=bold), _text_cell(summary, "行数", font=bold)])
    for label, count in summarise(rows).items():
        summary.append([_text_cell(summary, label), count])

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _legal(text: str) -> str:
    """Text without the control characters an .xlsx cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", text or "")


def _text_cell(sheet: object, text: str, *, font: Font | None = None) -> WriteOnlyCell:
    """A string cell: openpyxl would otherwise store text starting with "=" as a formula."""
    text = _legal(text)
    cell = WriteOnlyCell(sheet, value=text or None)
    if text:
        cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell


__all__ = [
    "EXISTING_CUSTOMER_REASON",
    "HEADERS",
    "OUTCOME_LABELS",
    "ImportOutcome",
    "ReportRow",
    "summarise",
    "write_report",
]
