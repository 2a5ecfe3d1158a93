"""reporting's read models and KPIs on a small fixed event stream (conftest.small_firm), each number computed by
hand in the test; duplicates, reordering and a rebuild from the archive change none of them."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from loanbridge.common.events.envelope import Envelope, new_id
from loanbridge.common.events.inbox import Outcome
from loanbridge.common.events.schemas import repository_root, validate_data
from loanbridge.common.testing import harness
from loanbridge.reporting import handlers, orm
from loanbridge.reporting.commands import rebuild

API = "/api/reporting/v1"
MARCH = {"from": "2026-03-01", "to": "2026-03-31"}
ENDPOINTS = ("kpis", "roi", "approvals", "funnel", "stage-times", "leaderboard", "overdue", "trends", "sla")


def fixed_id(name: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"loanbridge-reporting-test/{name}"))


def get(service: Any, headers: dict[str, str], endpoint: str, **query: str) -> list[dict[str, Any]]:
    response = service.client().get(f"{API}/{endpoint}", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rows"]


def every_kpi(service: Any, headers: dict[str, str]) -> dict[str, Any]:
    answers = {endpoint: get(service, headers, endpoint, **MARCH) for endpoint in ENDPOINTS}
    answers["leaderboard-teams"] = get(service, headers, "leaderboard", by="team", **MARCH)
    return answers


@pytest.fixture
def delivered(reporting: Any, firm: Any) -> Any:
    outcomes = harness.deliver(firm.events, reporting.runtime)
    assert outcomes == [Outcome.APPLIED] * len(firm.events)
    return reporting


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[key] for key in keys) for row in rows]


def test_the_fixed_stream_matches_the_published_event_schemas(firm: Any) -> None:
    root = repository_root(Path(__file__))

    problems = [problem for event in firm.events for problem in validate_data(event, root)]

    assert problems == []


def test_conversion_counts_each_lead_of_the_range_at_every_step_it_reached(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "kpis", **MARCH)

    # L5 (February) is outside. douyin/house = L1 (all the way to a loan) + L4 (nothing): 1 of 2 disbursed.
    assert pick(
        rows,
        "channel",
        "product",
        "leads",
        "amount",
        "submitted",
        "risk_approved",
        "lender_submitted",
        "lender_approved",
        "disbursed",
        "conversion_rate",
    ) == [
        ("baidu", "house", 1, 500000.0, 1, 1, 1, 1, 1, 1.0),
        ("douyin", "credit", 1, 50000.0, 1, 0, 0, 0, 0, 0.0),
        ("douyin", "house", 2, 500000.0, 1, 1, 1, 1, 1, 0.5),
    ]


def test_roi_takes_spend_pro_rata_by_days_and_commission_from_loans_disbursed_in_the_range(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    march = get(delivered, admin_headers, "roi", **MARCH)
    first_ten_days = get(delivered, admin_headers, "roi", **{"from": "2026-03-01", "to": "2026-03-10"})
    house_only = get(delivered, admin_headers, "roi", product="house", **MARCH)

    keys = ("channel", "spend", "leads", "loans", "commission", "cost_per_lead", "cost_per_loan", "roi")
    # baidu: 62000 spent, L3, N3 with 13500 commission: (13500 - 62000) / 62000 = -0.7823.
    # douyin: 31000 spent, L1 L2 L4, N1 with 5600: 31000 / 3 = 10333.33 a lead; (5600 - 31000) / 31000 = -0.8194.
    assert pick(march, *keys) == [
        ("baidu", 62000.0, 1, 1, 13500.0, 62000.0, 62000.0, -0.7823),
        ("douyin", 31000.0, 3, 1, 5600.0, 10333.33, 31000.0, -0.8194),
    ]
    # 10 of March's 31 days: baidu 20000, douyin 10000; N3 (12 March) falls outside, N1 (9 March) inside.
    assert pick(first_ten_days, "channel", "spend", "leads", "loans", "commission", "cost_per_loan") == [
        ("baidu", 20000.0, 1, 0, 0.0, None),
        ("douyin", 10000.0, 3, 1, 5600.0, 10000.0),
    ]
    # house only: douyin's spend shared by leads, 2 of its 3 (L1, L4): 31000 * 2 / 3 = 20666.67.
    assert pick(house_only, "channel", "spend", "leads", "cost_per_lead", "cost_per_loan") == [
        ("baidu", 62000.0, 1, 62000.0, 62000.0),
        ("douyin", 20666.67, 2, 10333.33, 20666.67),
    ]


def test_approval_rates_are_risk_approvals_over_evaluations_and_lender_approvals_over_submissions(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "approvals", **MARCH)

    # baidu/house: E3a review + E3b approve = 1/2; S3a declined + S3b approved = 1/2.
    # douyin/credit: E2 reject = 0/1, no submission; douyin/house: E1 approve 1/1, S1 approved 1/1.
    assert pick(
        rows,
        "channel",
        "product",
        "evaluations",
        "risk_approved",
        "risk_review",
        "risk_rejected",
        "risk_approval_rate",
        "lender_submissions",
        "lender_approved",
        "lender_declined",
        "lender_approval_rate",
    ) == [
        ("baidu", "house", 2, 1, 1, 0, 0.5, 2, 1, 1, 0.5),
        ("douyin", "credit", 1, 0, 0, 1, 0.0, 0, 0, 0, None),
        ("douyin", "house", 1, 1, 0, 0, 1.0, 1, 1, 0, 1.0),
    ]


def test_funnel_counts_the_leads_that_ever_entered_each_stage_and_those_in_it_now(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "funnel", **MARCH)

    # 4 March leads; L2 left at pre_review for rejected; L1 and L3 went to disbursed; L4 waits in assigned.
    assert pick(rows, "stage", "stage_name", "reached", "current") == [
        ("new", "新线索", 4, 0),
        ("assigned", "已分配", 4, 1),
        ("pre_review", "资质初审", 3, 0),
        ("plan_matching", "方案匹配", 2, 0),
        ("risk_review", "风控复审", 2, 0),
        ("contract", "合同签署", 2, 0),
        ("disbursed", "已放款", 2, 2),
        ("rejected", "已拒绝", 1, 1),
    ]
    assert rows[2]["reached_rate"] == 0.75


def test_time_in_stage_is_the_median_and_p90_of_the_stays_that_ended_in_the_range(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "stage-times", **MARCH)

    # assigned: L1 24 h, L2 22 h (12:00 to 10:00), L3 30 h (10:00 to 16:00 next day): median 24, p90 rank 3 = 30.
    # pre_review: L1 24, L2 26, L3 42 (16:00 on the 4th to 10:00 on the 6th). plan_matching: L1 24, L3 71
    # (to 09:00 on the 9th): median 47.5. risk_review: L1 24, L3 49. contract: L1 72 (a weekend), L3 24.
    assert pick(rows, "stage", "stays", "median_hours", "p90_hours") == [
        ("assigned", 3, 24.0, 30.0),
        ("pre_review", 3, 26.0, 42.0),
        ("plan_matching", 2, 47.5, 71.0),
        ("risk_review", 2, 36.5, 49.0),
        ("contract", 2, 48.0, 72.0),
    ]


def test_time_in_stage_filters_by_the_lead_whatever_order_its_events_arrived_in(
    firm: Any, fresh_reporting: Callable[[str], Any], admin_headers: dict[str, str]
) -> None:
    in_order, backwards = fresh_reporting("in-order"), fresh_reporting("backwards")
    harness.deliver(firm.events, in_order.runtime)
    harness.deliver(list(reversed(firm.events)), backwards.runtime)

    # 青岛一组 is L3 alone: assigned 30 h, pre_review 42 h, plan_matching 71 h, risk_review 49 h, contract 24 h.
    for service in (in_order, backwards):
        rows = get(service, admin_headers, "stage-times", team_id=fixed_id("T2"), **MARCH)
        assert pick(rows, "stage", "stays", "median_hours") == [
            ("assigned", 1, 30.0),
            ("pre_review", 1, 42.0),
            ("plan_matching", 1, 71.0),
            ("risk_review", 1, 49.0),
            ("contract", 1, 24.0),
        ]
        assert pick(get(service, admin_headers, "stage-times", product="credit", **MARCH), "stage", "stays") == [
            ("assigned", 1),
            ("pre_review", 1),
        ]


def test_leaderboard_ranks_salespeople_and_teams_by_principal_with_their_display_names(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    people = get(delivered, admin_headers, "leaderboard", **MARCH)
    teams = get(delivered, admin_headers, "leaderboard", by="team", **MARCH)

    # 王五 owns L3 (N3 450000); 张三 L1 (N1 280000; L2 he entered went to 李四); 李四 L2 and L4, no loan.
    assert pick(people, "rank", "name", "leads", "submitted", "loans", "principal", "commission") == [
        (1, "王五", 1, 1, 1, 450000.0, 13500.0),
        (2, "张三", 1, 1, 1, 280000.0, 5600.0),
        (3, "李四", 2, 1, 0, 0.0, 0.0),
    ]
    assert pick(teams, "rank", "name", "leads", "submitted", "loans", "principal") == [
        (1, "青岛一组", 1, 1, 1, 450000.0),
        (2, "济南一组", 3, 2, 1, 280000.0),
    ]


def test_followup_counts_contacts_per_lead_and_days_from_lead_to_contract_per_salesperson_and_team(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    people = get(delivered, admin_headers, "leaderboard", **MARCH)
    teams = get(delivered, admin_headers, "leaderboard", by="team", **MARCH)

    # 王五: 3 contacts on 1 lead; L3 from 10:00 on 3 March to contract at 10:00 on 11 March = 8 days.
    # 张三: 2 on 1; L1 2 March 10:00 to 6 March 10:00 = 4 days. 李四: 1 contact on 2 leads, no contract.
    assert pick(people, "name", "contacts", "contacts_per_lead", "median_days_to_contract", "p90_days_to_contract") == [
        ("王五", 3, 3.0, 8.0, 8.0),
        ("张三", 2, 2.0, 4.0, 4.0),
        ("李四", 1, 0.5, None, None),
    ]
    # 济南一组: 3 contacts over L1, L2, L4 = 1.0 a lead; only L1 reached contract.
    assert pick(teams, "name", "contacts", "contacts_per_lead", "median_days_to_contract") == [
        ("青岛一组", 3, 3.0, 8.0),
        ("济南一组", 3, 1.0, 4.0),
    ]


def test_public_pool_recycle_rate_is_the_share_of_the_leads_that_went_to_the_pool(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "kpis", **MARCH)

    # L4 (douyin/house) lapsed into the pool on 20 March: 1 of douyin/house's 2 leads.
    assert pick(rows, "channel", "product", "recycled", "recycle_rate") == [
        ("baidu", "house", 0, 0.0),
        ("douyin", "credit", 0, 0.0),
        ("douyin", "house", 1, 0.5),
    ]


def test_sla_breach_rate_is_overdue_tasks_over_tasks_created_per_kind_and_team(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "sla", **MARCH)

    # 济南一组's first contacts: L1 done in time, L2 overdue then done, L4 overdue: 2 of 3 breached.
    # 青岛一组: L3's first contact in time; L3's review overdue, then done: 1 of 1.
    assert pick(rows, "kind_name", "team_name", "tasks", "completed", "breached", "breach_rate") == [
        ("首次联系", "济南一组", 3, 2, 2, 0.6667),
        ("首次联系", "青岛一组", 1, 1, 0, 0.0),
        ("风控复核", "青岛一组", 1, 1, 1, 1.0),
    ]


def test_overdue_by_vintage_counts_m1_and_m3_by_loans_and_by_outstanding_principal(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "overdue", **MARCH)

    # N3 was 95 days past due with 440000 left of 450000: M1+ and M3+, 440000 / 450000 = 0.9778.
    # N1 was at worst 35 days past due with 270000 left of 280000: M1+ only, 270000 / 280000 = 0.9643.
    assert pick(
        rows,
        "vintage",
        "product",
        "channel",
        "loans",
        "principal",
        "m1_loans",
        "m1_principal",
        "m1_rate_by_count",
        "m1_rate_by_principal",
        "m3_loans",
        "m3_principal",
        "m3_rate_by_principal",
    ) == [
        ("2026-03", "house", "baidu", 1, 450000.0, 1, 440000.0, 1.0, 0.9778, 1, 440000.0, 0.9778),
        ("2026-03", "house", "douyin", 1, 280000.0, 1, 270000.0, 1.0, 0.9643, 0, 0.0, 0.0),
    ]


def test_weekly_trends_count_each_event_in_the_week_of_its_business_day(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    rows = get(delivered, admin_headers, "trends", **MARCH)

    # Week of Monday 2 March: L1 L2 L3; E1 E2 E3a E3b (2 approvals); S1 submitted and approved.
    # Week of 9 March: L4; S3a, S3b submitted, S3b approved on the 11th; N1 and N3, 280000 + 450000.
    assert pick(
        rows,
        "week",
        "leads",
        "evaluations",
        "risk_approved",
        "lender_submissions",
        "lender_approved",
        "loans",
        "principal",
    ) == [
        ("2026-03-02", 3, 4, 2, 1, 1, 0, 0.0),
        ("2026-03-09", 1, 0, 0, 2, 1, 2, 730000.0),
    ]


def test_a_salesperson_sees_only_the_leads_they_own_or_entered(delivered: Any, tokens: harness.TokenFactory) -> None:
    zhang = tokens.header(subject=fixed_id("zhang"), roles=["sales"], team_id=fixed_id("T1"))
    li = tokens.header(subject=fixed_id("li"), roles=["sales"], team_id=fixed_id("T1"))

    # 张三 owns L1 and entered L2 (now 李四's); 李四 owns L2 and L4.
    assert pick(get(delivered, zhang, "kpis", **MARCH), "channel", "product", "leads") == [
        ("douyin", "credit", 1),
        ("douyin", "house", 1),
    ]
    assert pick(get(delivered, li, "kpis", **MARCH), "channel", "product", "leads") == [
        ("douyin", "credit", 1),
        ("douyin", "house", 1),
    ]
    assert pick(get(delivered, li, "leaderboard", **MARCH), "name", "leads") == [("李四", 2)]
    assert get(delivered, li, "overdue", **MARCH) == []


def test_a_manager_sees_only_their_teams_and_nothing_of_another_team_even_when_asked(
    delivered: Any, tokens: harness.TokenFactory
) -> None:
    zhao = tokens.header(subject=fixed_id("M1"), roles=["manager"], managed_team_ids=[fixed_id("T1")])

    assert pick(get(delivered, zhao, "kpis", **MARCH), "channel", "product", "leads") == [
        ("douyin", "credit", 1),
        ("douyin", "house", 2),
    ]
    assert pick(get(delivered, zhao, "leaderboard", by="team", **MARCH), "name") == [("济南一组",)]
    assert get(delivered, zhao, "kpis", team_id=fixed_id("T2"), **MARCH) == []
    assert get(delivered, zhao, "roi", channel="baidu", **MARCH) == []


def test_kpis_filter_by_owner_team_and_city(delivered: Any, admin_headers: dict[str, str]) -> None:
    by_owner = get(delivered, admin_headers, "kpis", owner_id=fixed_id("li"), **MARCH)
    by_team = get(delivered, admin_headers, "kpis", team_id=fixed_id("T2"), **MARCH)
    by_city = get(delivered, admin_headers, "approvals", city="青岛", **MARCH)

    assert pick(by_owner, "channel", "product", "leads") == [("douyin", "credit", 1), ("douyin", "house", 1)]
    assert pick(by_team, "channel", "product", "leads") == [("baidu", "house", 1)]
    assert pick(by_city, "channel", "evaluations", "lender_submissions") == [("baidu", 2, 2)]


def test_a_lead_moved_to_another_channel_takes_its_evaluations_submissions_loans_and_stays_along(
    delivered: Any, firm: Any, admin_headers: dict[str, str]
) -> None:
    created = next(e for e in firm.events if e.type == "intake.lead.created" and e.subject == fixed_id("L3"))
    moved = replace(created, id=new_id(), type="intake.lead.updated", sequence=2)
    moved = replace(moved, data={**created.data, "channel": "referral"})

    harness.deliver([moved], delivered.runtime)

    assert pick(get(delivered, admin_headers, "approvals", channel="referral", **MARCH), "evaluations") == [(2,)]
    assert pick(get(delivered, admin_headers, "overdue", channel="referral", **MARCH), "loans", "m3_loans") == [(1, 1)]
    assert [row["stays"] for row in get(delivered, admin_headers, "stage-times", channel="referral", **MARCH)] == [
        1
    ] * 5
    assert get(delivered, admin_headers, "overdue", channel="baidu", **MARCH) == []


def test_reordered_and_duplicated_events_give_the_same_kpis(
    delivered: Any, firm: Any, fresh_reporting: Callable[[str], Any], admin_headers: dict[str, str]
) -> None:
    in_order = every_kpi(delivered, admin_headers)
    backwards = fresh_reporting("backwards")
    shuffled = fresh_reporting("shuffled")
    events = list(firm.events)
    random.Random(8).shuffle(events)
    # The same events again, and copies of them under new ids (a producer re-emitting what it had sent).
    copies = [replace(event, id=new_id()) for event in firm.events]

    harness.deliver(list(reversed(firm.events)), backwards.runtime)
    harness.deliver(events, shuffled.runtime)
    again = harness.deliver(firm.events, delivered.runtime)
    harness.deliver(copies, delivered.runtime)

    assert again == [Outcome.DUPLICATE] * len(firm.events)
    assert every_kpi(backwards, admin_headers) == in_order
    assert every_kpi(shuffled, admin_headers) == in_order
    assert every_kpi(delivered, admin_headers) == in_order
    assert in_order["kpis"] and in_order["stage-times"] and in_order["overdue"]


def test_rebuilding_from_the_archive_into_empty_read_models_gives_identical_kpis(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    before = every_kpi(delivered, admin_headers)
    with delivered.runtime.database.session() as session, session.begin():
        orm.clear_read_models(session)
    emptied = get(delivered, admin_headers, "kpis", **MARCH)

    replayed = handlers.rebuild(delivered.runtime, batch=7)

    assert emptied == []
    with delivered.runtime.database.session() as session:
        assert replayed == handlers.count_archived(session)
    assert every_kpi(delivered, admin_headers) == before


def test_loanbridge_rebuild_reporting_refills_the_read_models(
    delivered: Any, suite_env: dict[str, str], admin_headers: dict[str, str]
) -> None:
    before = every_kpi(delivered, admin_headers)
    with delivered.runtime.database.session() as session, session.begin():
        session.execute(orm.lead_facts.delete())

    result = CliRunner().invoke(rebuild, ["reporting"], env=suite_env)

    assert result.exit_code == 0, result.output
    assert "read models rebuilt from" in result.output
    assert every_kpi(delivered, admin_headers) == before


def test_a_kpi_added_later_is_back_filled_from_events_archived_before_it(
    reporting: Any, firm: Any, admin_headers: dict[str, str]
) -> None:
    projections = dict(handlers.PROJECTIONS)
    try:
        handlers.PROJECTIONS.pop("workflow.loan.overdue")
        harness.deliver(firm.events, reporting.runtime)
        without = get(reporting, admin_headers, "overdue", **MARCH)
    finally:
        handlers.PROJECTIONS.clear()
        handlers.PROJECTIONS.update(projections)

    handlers.rebuild(reporting.runtime)

    assert [row["m1_loans"] for row in without] == [0, 0]
    assert [row["m1_loans"] for row in get(reporting, admin_headers, "overdue", **MARCH)] == [1, 1]


def test_an_event_of_an_unknown_lead_waits_in_the_read_models_until_its_lead_arrives(
    reporting: Any, firm: Any, admin_headers: dict[str, str]
) -> None:
    lead_events = [event for event in firm.events if event.type == "intake.lead.created"]
    others = [event for event in firm.events if event.type != "intake.lead.created"]

    harness.deliver(others, reporting.runtime)
    waiting = get(reporting, admin_headers, "kpis", **MARCH)
    harness.deliver(lead_events, reporting.runtime)

    assert waiting == []
    assert [row["leads"] for row in get(reporting, admin_headers, "kpis", **MARCH)] == [1, 1, 2]


def test_export_writes_the_kpi_table_with_chinese_headers_and_the_filters_on_the_sheet(
    delivered: Any, admin_headers: dict[str, str]
) -> None:
    query = {"kpi": "conversion", "channel": "douyin", **MARCH}

    response = delivered.client().get(f"{API}/export.xlsx", query_string=query, headers=admin_headers)

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "loanbridge-conversion-2026-03-01-2026-03-31.xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [[cell for cell in row if cell is not None] for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == ["渠道转化"]
    assert ["开始日期", "2026-03-01"] in cells and ["结束日期", "2026-03-31"] in cells
    assert ["渠道", "douyin"] in cells and ["产品", "全部"] in cells and ["数据范围", "全部"] in cells
    headers = ["渠道", "产品", "线索数", "申请金额(元)", "提交申请", "风控通过", "提交机构", "机构批准", "已放款"]
    header = cells.index([*headers, "线索放款转化率", "进入公海", "公海回收率"])
    assert cells[header + 1 :] == [
        ["douyin", "credit", 1, 50000, 1, 0, 0, 0, 0, 0, 0, 0],
        ["douyin", "house", 2, 500000, 1, 1, 1, 1, 1, 0.5, 1, 0.5],
    ]


EXPORTED = {
    "roi": ("roi", {}),
    "approvals": ("approvals", {}),
    "funnel": ("funnel", {}),
    "stage_times": ("stage-times", {}),
    "leaderboard_owners": ("leaderboard", {}),
    "leaderboard_teams": ("leaderboard", {"by": "team"}),
    "overdue": ("overdue", {}),
    "trends": ("trends", {}),
    "sla": ("sla", {}),
}


@pytest.mark.parametrize("kpi", sorted(EXPORTED))
def test_every_kpi_table_exports_a_chinese_header_and_one_sheet_row_per_api_row(
    delivered: Any, admin_headers: dict[str, str], kpi: str
) -> None:
    endpoint, extra = EXPORTED[kpi]
    api_rows = get(delivered, admin_headers, endpoint, **extra, **MARCH)

    response = delivered.client().get(f"{API}/export.xlsx", query_string={"kpi": kpi, **MARCH}, headers=admin_headers)

    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    # Title, two dates, five filters, the scope and the export time, a blank row, then the header.
    assert rows[9][0] == "导出时间" and rows[10] == (None,) * len(rows[10])
    assert all(isinstance(title, str) and not title.isascii() for title in rows[11])
    assert len(rows) - 12 == len(api_rows) > 0


def test_export_of_an_unknown_kpi_is_422_naming_kpi(reporting: Any, admin_headers: dict[str, str]) -> None:
    response = reporting.client().get(f"{API}/export.xlsx", query_string={"kpi": "profits"}, headers=admin_headers)

    assert response.status_code == 422
    assert response.get_json()["details"]["fields"]["kpi"] == ["未知的指标表"]


def test_export_for_a_salesperson_says_the_sheet_holds_only_their_leads(
    delivered: Any, tokens: harness.TokenFactory
) -> None:
    zhang = tokens.header(subject=fixed_id("zhang"), roles=["sales"])

    response = delivered.client().get(f"{API}/export.xlsx", query_string={"kpi": "conversion", **MARCH}, headers=zhang)

    cells = [row[:2] for row in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert ("数据范围", "本人的线索") in cells
    assert sum(1 for row in cells if row[0] == "douyin") == 2


def test_an_event_reporting_does_not_project_is_still_archived(reporting: Any) -> None:
    event = Envelope.new(
        source="notify",
        event_type="notify.message.sent",
        subject="m-1",
        sequence=1,
        data={"message_id": "m-1", "channel": "sms", "template": "t", "subject_id": "x", "attempt": 1, "error": None},
        correlation_id="c",
        causation_id=None,
        actor=None,
    )

    assert harness.deliver([event], reporting.runtime) == [Outcome.APPLIED]
    with reporting.runtime.database.session() as session:
        assert handlers.count_archived(session) == 1
