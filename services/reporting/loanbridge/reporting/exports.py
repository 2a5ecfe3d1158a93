"""The KPI tables by name, with their Chinese titles and headers, and their export as an .xlsx workbook that
writes the filters on the sheet above the table."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from loanbridge.common import clock
from loanbridge.common.uow import UnitOfWork
from loanbridge.reporting import views
from loanbridge.reporting.views import KpiQuery


@dataclass(frozen=True)
class KpiTable:
    title: str
    rows: Callable[[UnitOfWork, KpiQuery], list[dict[str, Any]]]
    columns: tuple[tuple[str, str], ...]


TABLES: dict[str, KpiTable] = {
    "conversion": KpiTable(
        "渠道转化",
        views.lead_kpis,
        (
            ("channel", "渠道"),
            ("product", "产品"),
            ("leads", "线索数"),
            ("amount", "申请金额(元)"),
            ("submitted", "提交申请"),
            ("risk_approved", "风控通过"),
            ("lender_submitted", "提交机构"),
            ("lender_approved", "机构批准"),
            ("disbursed", "已放款"),
            ("conversion_rate", "线索放款转化率"),
            ("recycled", "进入公海"),
            ("recycle_rate", "公海回收率"),
        ),
    ),
    "roi": KpiTable(
        "渠道投入产出",
        views.roi,
        (
            ("channel", "渠道"),
            ("spend", "投放费用(元)"),
            ("leads", "线索数"),
            ("loans", "放款笔数"),
            ("principal", "放款本金(元)"),
            ("commission", "佣金(元)"),
            ("cost_per_lead", "单条线索成本(元)"),
            ("cost_per_loan", "单笔放款成本(元)"),
            ("commission_per_loan", "单笔佣金(元)"),
            ("roi", "投入产出比"),
        ),
    ),
    "approvals": KpiTable(
        "审批通过率",
        views.approvals,
        (
            ("channel", "渠道"),
            ("product", "产品"),
            ("evaluations", "风控评估数"),
            ("risk_approved", "风控通过"),
            ("risk_review", "转人工复核"),
            ("risk_rejected", "风控拒绝"),
            ("risk_approval_rate", "风控通过率"),
            ("lender_submissions", "机构进件数"),
            ("lender_approved", "机构批准"),
            ("lender_declined", "机构拒绝"),
            ("lender_approval_rate", "机构批准率"),
        ),
    ),
    "funnel": KpiTable(
        "阶段漏斗",
        views.funnel,
        (
            ("stage_name", "阶段"),
            ("reached", "到达数"),
            ("current", "当前停留数"),
            ("reached_rate", "到达率"),
        ),
    ),
    "stage_times": KpiTable(
        "阶段停留时长",
        views.stage_times,
        (
            ("stage_name", "阶段"),
            ("stays", "停留次数"),
            ("median_hours", "中位数(小时)"),
            ("p90_hours", "P90(小时)"),
        ),
    ),
    "leaderboard_owners": KpiTable(
        "销售排行榜",
        partial(views.leaderboard, by="owner"),
        (
            ("rank", "名次"),
            ("name", "销售"),
            ("leads", "线索数"),
            ("submitted", "提交申请"),
            ("loans", "放款笔数"),
            ("principal", "放款本金(元)"),
            ("commission", "佣金(元)"),
            ("conversion_rate", "转化率"),
            ("contacts", "跟进次数"),
            ("contacts_per_lead", "人均跟进次数"),
            ("median_days_to_contract", "线索到签约天数(中位数)"),
            ("p90_days_to_contract", "线索到签约天数(P90)"),
        ),
    ),
    "leaderboard_teams": KpiTable(
        "团队排行榜",
        partial(views.leaderboard, by="team"),
        (
            ("rank", "名次"),
            ("name", "团队"),
            ("leads", "线索数"),
            ("submitted", "提交申请"),
            ("loans", "放款笔数"),
            ("principal", "放款本金(元)"),
            ("commission", "佣金(元)"),
            ("conversion_rate", "转化率"),
            ("contacts", "跟进次数"),
            ("contacts_per_lead", "人均跟进次数"),
            ("median_days_to_contract", "线索到签约天数(中位数)"),
            ("p90_days_to_contract", "线索到签约天数(P90)"),
        ),
    ),
    "overdue": KpiTable(
        "逾期(按放款月)",
        views.overdue,
        (
            ("vintage", "放款月份"),
            ("product", "产品"),
            ("channel", "渠道"),
            ("loans", "放款笔数"),
            ("principal", "放款本金(元)"),
            ("m1_loans", "M1+笔数"),
            ("m1_principal", "M1+剩余本金(元)"),
            ("m1_rate_by_count", "M1+逾期率(笔数)"),
            ("m1_rate_by_principal", "M1+逾期率(本金)"),
            ("m3_loans", "M3+笔数"),
            ("m3_principal", "M3+剩余本金(元)"),
            ("m3_rate_by_count", "M3+逾期率(笔数)"),
            ("m3_rate_by_principal", "M3+逾期率(本金)"),
        ),
    ),
    "sla": KpiTable(
        "SLA 超时率",
        views.sla,
        (
            ("kind_name", "任务类型"),
            ("team_name", "团队"),
            ("tasks", "任务数"),
            ("completed", "已完成"),
            ("breached", "超时"),
            ("breach_rate", "超时率"),
        ),
    ),
    "trends": KpiTable(
        "周趋势",
        views.trends,
        (
            ("week", "周(周一)"),
            ("leads", "线索数"),
            ("evaluations", "风控评估数"),
            ("risk_approved", "风控通过"),
            ("lender_submissions", "机构进件数"),
            ("lender_approved", "机构批准"),
            ("loans", "放款笔数"),
            ("principal", "放款本金(元)"),
        ),
    ),
}

FILTER_LABELS = (
    ("channel", "渠道"),
    ("product", "产品"),
    ("city", "城市"),
    ("team_id", "团队"),
    ("owner_id", "销售"),
)


def scope_label(query: KpiQuery) -> str:
    if query.scope_user is not None:
        return "本人的线索"
    if query.scope_teams is not None:
        return "所管理团队的线索"
    return "全部"


def workbook(name: str, query: KpiQuery, rows: list[dict[str, Any]]) -> bytes:
    """The KPI table as an .xlsx: its title, the filters it was asked with, then the table with Chinese headers."""
    table = TABLES[name]
    book = Workbook()
    sheet = book.active
    sheet.title = table.title[:31]
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["开始日期", query.start.isoformat()])
    sheet.append(["结束日期", query.end.isoformat()])
    for field, label in FILTER_LABELS:
        sheet.append([label, _cell(getattr(query, field)) or "全部"])
    sheet.append(["数据范围", scope_label(query)])
    sheet.append(["导出时间", _business_time(clock.now())])
    sheet.append([])
    sheet.append([header for _, header in table.columns])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(row.get(key)) for key, _ in table.columns])
    for index, (_, header) in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(header) * 2 + 2)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _business_time(instant: datetime) -> str:
    return clock.to_business(instant).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str):
        # A filter or a name may carry control characters, which a worksheet cannot hold (openpyxl refuses them).
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value
