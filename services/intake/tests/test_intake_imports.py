"""Component tests of imports from Excel: an admin uploads a ledger as firms keep it, the worker's dry run reports
every row (new, linked, rejected and why) in an .xlsx without personal data, and the commit creates exactly the
good rows, once. Staff named in a 业务员 column are known from identity's events."""

from __future__ import annotations

import io
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from loanbridge.common.clock import FixedClock, use_clock
from loanbridge.common.pii.validators import id_check_char
from loanbridge.common.testing import harness
from loanbridge.intake import orm
from loanbridge.intake.domain.import_report import EXISTING_CUSTOMER_REASON
from loanbridge.intake.domain.imports import ID_STORED_AS_NUMBER
from loanbridge.intake.handlers import imports

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
HEADER = [
    "序号", "客户姓名", "手机号码", "身份证号", "贷款产品", "贷款金额(万元)",
    "期限", "渠道", "所在城市", "业务员", "备注", "录入日期",
]  # fmt: skip
USER_SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs" / "events" / "identity.user.created.v1.schema.json").read_text()
)
WANG, LIU = "5a0b7a52-0d7e-4a55-9a51-1d3c2b0f0a01", "5a0b7a52-0d7e-4a55-9a51-1d3c2b0f0a02"
TEAM = "7d1f3c2e-4b5a-4c6d-8e9f-0a1b2c3d4e5f"


def an_id(district: str, born: date, sequence: int) -> str:
    first17 = f"{district}{born:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


def ledger(rows: list[list[Any]], *, title: str = "2026年存量客户台账") -> bytes:
    """An .xlsx as firms keep it: a merged title row, then the Chinese header, then ``rows``; row 3 is the first."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "客户台账"
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run_worker(runtime: Any) -> int:
    """Run the worker's import step until there is nothing left to do; how many steps ran."""
    steps = 0
    while imports.run_next(runtime):
        steps += 1
        assert steps < 10, "the import worker never settles"
    return steps


def start(client: Any, headers: dict[str, str], content: bytes, name: str = "台账.xlsx", **form: str) -> Any:
    return client.post(
        f"{API}/imports",
        data={"file": (io.BytesIO(content), name), **form},
        headers=headers,
        content_type="multipart/form-data",
    )


def report(client: Any, headers: dict[str, str], import_id: str) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """The report's result rows (行号, 结果, 原因, 姓名, 手机号, 产品, 金额) and its summary counts."""
    response = client.get(f"{API}/imports/{import_id}/report.xlsx", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True)
    rows = list(workbook["导入结果"].iter_rows(values_only=True))
    summary = {label: count for label, count in list(workbook["汇总"].iter_rows(values_only=True))[1:]}
    workbook.close()
    assert rows[0] == ("行号", "结果", "原因", "姓名(脱敏)", "手机号(脱敏)", "产品", "金额(元)")
    return rows[1:], summary


def every_cell(rows: list[tuple[Any, ...]]) -> str:
    return "\n".join(str(cell) for row in rows for cell in row if cell is not None)


def counts(intake: harness.ServiceUnderTest) -> dict[str, int]:
    with intake.runtime.database.session() as session:
        return {
            table.name: session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (orm.leads, orm.customers)
        }


@pytest.fixture
def staff(intake: harness.ServiceUnderTest, new_event: Callable[..., Any]) -> Callable[..., None]:
    """Tell intake about a staff account, as identity's ``identity.user.created`` would."""

    def created(user_id: str, display_name: str, *, team_id: str | None = TEAM) -> None:
        data = {"user_id": user_id, "display_name": display_name, "roles": ["sales"], "team_id": team_id,
                "region": "济南", "products": ["house", "credit"], "active": True}  # fmt: skip
        jsonschema.validate(data, USER_SCHEMA, format_checker=jsonschema.FormatChecker())
        harness.deliver([new_event("identity.user.created", data)], intake.runtime)

    return created


# --- a small ledger, row by row -------------------------------------------------------------------------------------
WANG_XM = {"name": "王小明", "mobile": "13905310001", "id": an_id("370202", date(1990, 3, 5), 456)}
LI_XH = {"name": "李晓红", "mobile": "13905310003", "id": an_id("370303", date(1988, 8, 8), 8)}
SMALL_LEDGER = [
    # row 3: a new person, amount in 万元, a salesperson known from identity, a business date
    [1, "王小明", "13905310001", WANG_XM["id"], "房抵贷", 50, 36, "抖音", "济南", "王经理", "老客户", "2026-03-01"],
    # row 4: a person intake already knows (by mobile): linked, no new customer
    [2, "张三丰", "138 1234 5678", None, "信用贷", "20", "24期", "douyin", "济南市", None, None, "2026/3/2"],
    # row 5: the ID number Excel stored as a number (its last digits are gone)
    [3, "李晓红", "13905310003", float(LI_XH["id"][:17] + "0"), "车抵贷", 15, 24, "百度", "淄博", None, None, None],
    [],  # row 6: blank
    # row 7: a channel nobody registered
    [4, "赵四海", "13905310004", None, "车抵贷", 15, "3年", "快手", "青岛", None, None, None],
    # row 8: a city outside the service area
    [5, "钱五洲", "13905310005", None, "房抵贷", 30, 36, "百度", "北京", None, None, None],
    # row 9: 王小明 again (same mobile and ID): linked to row 3's customer
    [6, "王小明", "13905310001", WANG_XM["id"], "信抵贷", 10, 12, "百度", "济南", "刘芳", None, None],
    # row 10: a salesperson who is not on the staff
    [7, "孙六顺", "13905310007", None, "房抵贷", 80, 60, "地推", "烟台", "不存在的人", None, None],
    ["合计", None, None, None, None, 250, None, None, None, None, None, None],  # a totals row
]
CLEAR_VALUES = ("王小明", "13905310001", WANG_XM["id"], "李晓红", "13905310003", "赵四海", "13905310004", "钱五洲",
                "孙六顺", "张三丰", "13812345678")  # fmt: skip


@pytest.fixture
def known_customer(client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder) -> dict[str, Any]:
    return client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()


def test_a_ledger_is_dry_run_reported_row_by_row_then_committed_exactly_once(
    intake: harness.ServiceUnderTest,
    client: Any,
    admin_headers: dict[str, str],
    known_customer: dict[str, Any],
    staff: Callable[..., None],
) -> None:
    staff(WANG, "王经理")
    staff(LIU, "刘芳")
    before = counts(intake)
    harness.drain_outbox(intake.runtime)

    queued = start(client, admin_headers, ledger(SMALL_LEDGER))

    assert queued.status_code == 202, queued.get_json()
    assert queued.get_json()["status"] == "queued"
    import_id = queued.get_json()["id"]
    assert run_worker(intake.runtime) == 1
    dry = client.get(f"{API}/imports/{import_id}", headers=admin_headers).get_json()
    assert dry["status"] == "ready"
    assert (dry["rows_total"], dry["rows_new"], dry["rows_linked"], dry["rows_rejected"]) == (7, 1, 2, 4)
    assert dry["progress"] == 1.0
    assert counts(intake) == before  # a dry run creates nothing
    assert harness.drain_outbox(intake.runtime) == []
    rows, summary = report(client, admin_headers, import_id)
    assert [(row[0], row[1]) for row in rows] == [
        (3, "将新建"),
        (4, "将关联已有客户"),
        (5, "拒绝"),
        (7, "拒绝"),
        (8, "拒绝"),
        (9, "将关联已有客户"),
        (10, "拒绝"),
    ]
    reasons = {row[0]: row[2] or "" for row in rows}
    assert reasons[3] == ""
    assert reasons[4] == EXISTING_CUSTOMER_REASON
    assert reasons[5] == f"身份证号: {ID_STORED_AS_NUMBER}"
    assert reasons[7].startswith("渠道: ")
    assert reasons[8].startswith("城市: ")
    assert reasons[9] == "与第 3 行重复"
    assert reasons[10].startswith("业务员: ")
    assert rows[0][3:] == ("王**", "139****0001", "house", 500000)
    assert summary == {"总行数": 7, "新建": 1, "关联": 2, "拒绝": 4}
    text = every_cell(rows)
    for value in CLEAR_VALUES:
        assert value not in text, value

    committing = client.post(f"{API}/imports/{import_id}/commit", headers=admin_headers)
    assert committing.status_code == 202
    assert committing.get_json()["status"] == "committing"
    assert run_worker(intake.runtime) == 1

    done = client.get(f"{API}/imports/{import_id}", headers=admin_headers).get_json()
    assert done["status"] == "committed"
    assert (done["rows_total"], done["rows_new"], done["rows_linked"], done["rows_rejected"]) == (7, 1, 2, 4)
    assert counts(intake) == {"leads": before["leads"] + 3, "customers": before["customers"] + 1}
    rows, summary = report(client, admin_headers, import_id)
    assert [(row[0], row[1]) for row in rows] == [
        (3, "已新建"), (4, "已关联"), (5, "拒绝"), (7, "拒绝"), (8, "拒绝"), (9, "已关联"), (10, "拒绝"),
    ]  # fmt: skip
    assert summary == {"总行数": 7, "新建": 1, "关联": 2, "拒绝": 4}
    with intake.runtime.database.session() as session:
        created = session.execute(
            sa.select(orm.leads).where(orm.leads.c.id != known_customer["id"]).order_by(orm.leads.c.external_ref)
        ).all()
    by_row = {int(lead.external_ref.rsplit("-", 1)[1]): lead for lead in created}
    assert sorted(by_row) == [3, 4, 9]
    assert by_row[4].customer_id == known_customer["customer_id"]
    assert by_row[4].duplicate_outcome == "pool_customer"
    assert by_row[9].customer_id == by_row[3].customer_id != known_customer["customer_id"]
    assert (by_row[3].product, by_row[3].amount, by_row[3].term_months) == ("house", 500000, 36)
    assert (by_row[4].product, by_row[4].amount, by_row[4].term_months) == ("credit", 200000, 24)
    assert (by_row[9].channel, by_row[9].city) == ("baidu", "济南")
    assert by_row[3].submitted_by == WANG
    assert by_row[9].submitted_by == LIU
    assert by_row[4].submitted_by == "admin-1"
    # A dated row is a lead of that business day (09:00 in Shanghai).
    assert by_row[3].created_at == datetime(2026, 3, 1, 1, 0)
    events = {e.subject: e for e in harness.drain_outbox(intake.runtime) if e.type == "intake.lead.created"}
    assert set(events) == {lead.id for lead in by_row.values()}
    assert events[by_row[3].id].data["submitted_by"] == WANG
    assert events[by_row[3].id].time == "2026-03-01T01:00:00Z"

    # Committing again creates nothing more: refused over HTTP, and a rerun of the step (a crash) is a no-op.
    again = client.post(f"{API}/imports/{import_id}/commit", headers=admin_headers)
    assert (again.status_code, again.get_json()["code"]) == (409, "import_not_ready")
    assert run_worker(intake.runtime) == 0
    imports.commit(intake.runtime, import_id)
    assert counts(intake) == {"leads": before["leads"] + 3, "customers": before["customers"] + 1}
    assert [e for e in harness.drain_outbox(intake.runtime) if e.type.startswith("intake.lead")] == []


def test_the_salesperson_named_in_the_file_owns_the_leads_and_sees_the_customer(
    intake: harness.ServiceUnderTest,
    client: Any,
    tokens: harness.TokenFactory,
    admin_headers: dict[str, str],
    staff: Callable[..., None],
) -> None:
    staff(WANG, "王经理")
    import_id = start(client, admin_headers, ledger(SMALL_LEDGER[:1])).get_json()["id"]
    run_worker(intake.runtime)
    client.post(f"{API}/imports/{import_id}/commit", headers=admin_headers)
    run_worker(intake.runtime)

    wang = tokens.header(subject=WANG, roles=["sales"], team_id=TEAM)
    listed = client.get(f"{API}/customers", headers=wang).get_json()["items"]
    leads = client.get(f"{API}/leads", headers=wang).get_json()["items"]

    assert [item["name"] for item in listed] == ["王**"]
    assert len(leads) == 1
    assert leads[0]["amount"] == 500000


def test_staff_names_resolve_only_for_active_staff_with_a_unique_name(
    intake: harness.ServiceUnderTest,
    client: Any,
    admin_headers: dict[str, str],
    new_event: Callable[..., Any],
    staff: Callable[..., None],
) -> None:
    staff(WANG, "王经理")
    staff(LIU, "刘芳")
    staff(str(uuid.UUID(int=3)), "刘芳")  # two people called 刘芳
    staff(str(uuid.UUID(int=4)), "陈离职")
    left = {"user_id": str(uuid.UUID(int=4)), "display_name": "陈离职", "roles": ["sales"], "team_id": None,
            "region": None, "products": [], "active": False}  # fmt: skip
    later = datetime.now(UTC) + timedelta(minutes=1)
    harness.deliver([new_event("identity.user.deactivated", left, occurred_at=later)], intake.runtime)
    rows = [
        ["1", "周一", "13905310011", None, "房抵贷", 30, 36, "抖音", "济南", "王 经理", None, None],
        ["2", "周二", "13905310012", None, "房抵贷", 30, 36, "抖音", "济南", "刘芳", None, None],
        ["3", "周三", "13905310013", None, "房抵贷", 30, 36, "抖音", "济南", "陈离职", None, None],
    ]

    import_id = start(client, admin_headers, ledger(rows)).get_json()["id"]
    run_worker(intake.runtime)

    result, _ = report(client, admin_headers, import_id)
    assert [(row[0], row[1]) for row in result] == [(3, "将新建"), (4, "拒绝"), (5, "拒绝")]
    assert result[1][2].startswith("业务员: ")


def test_a_row_without_a_city_or_channel_is_rejected_unless_the_upload_gives_a_default(
    intake: harness.ServiceUnderTest, client: Any, admin_headers: dict[str, str]
) -> None:
    rows = [
        ["1", "周一", "13905310011", None, "房抵贷", 30, 36, "抖音", None, None, None, None],
        ["2", "周二", "13905310012", None, "房抵贷", 30, 36, None, "济南", None, None, None],
        ["3", "周三", "13905310013", None, "房抵贷", 30, 36, "抖音", "济南", None, None, None],
    ]

    bare = start(client, admin_headers, ledger(rows)).get_json()["id"]
    run_worker(intake.runtime)
    with_defaults = start(client, admin_headers, ledger(rows), default_city="潍坊", default_channel="ground")
    run_worker(intake.runtime)

    bare_rows, _ = report(client, admin_headers, bare)
    assert [(row[0], row[1]) for row in bare_rows] == [(3, "拒绝"), (4, "拒绝"), (5, "将新建")]
    assert bare_rows[0][2].startswith("城市: ")
    assert bare_rows[1][2].startswith("渠道: ")
    client.post(f"{API}/imports/{bare}/commit", headers=admin_headers)
    run_worker(intake.runtime)
    assert client.get(f"{API}/imports/{bare}", headers=admin_headers).get_json()["status"] == "committed"
    assert counts(intake)["leads"] == 1
    defaulted_id = with_defaults.get_json()["id"]
    client.post(f"{API}/imports/{defaulted_id}/commit", headers=admin_headers)
    run_worker(intake.runtime)
    defaulted = client.get(f"{API}/imports/{defaulted_id}", headers=admin_headers).get_json()
    assert (defaulted["status"], defaulted["rows_new"], defaulted["rows_linked"]) == ("committed", 2, 1)
    with intake.runtime.database.session() as session:
        places = session.execute(sa.select(orm.leads.c.city, orm.leads.c.channel)).all()
    assert sorted(places) == [("济南", "douyin"), ("济南", "douyin"), ("济南", "ground"), ("潍坊", "douyin")]


@pytest.mark.parametrize(
    ("form", "field"),
    [({"default_city": "北京"}, "default_city"), ({"default_channel": "kuaishou"}, "default_channel")],
)
def test_an_unknown_default_city_or_channel_is_422_naming_it(
    intake: harness.ServiceUnderTest, client: Any, admin_headers: dict[str, str], form: dict[str, str], field: str
) -> None:
    response = start(client, admin_headers, ledger(SMALL_LEDGER[:1]), **form)

    assert response.status_code == 422
    assert field in response.get_json()["details"]["fields"]
    assert run_worker(intake.runtime) == 0


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"PK\x03\x04not really a workbook", "台账.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "台账.xls"),
        (b"%PDF-1.4\n", "台账.pdf"),
        ("姓名,备注\n张三,无\n".encode(), "台账.csv"),
    ],
    ids=["damaged_xlsx", "legacy_xls", "not_a_spreadsheet", "csv_without_required_columns"],
)
def test_a_file_that_cannot_be_imported_is_422_naming_file(
    intake: harness.ServiceUnderTest, client: Any, admin_headers: dict[str, str], content: bytes, name: str
) -> None:
    response = start(client, admin_headers, content, name=name)

    assert response.status_code == 422
    assert list(response.get_json()["details"]["fields"]) == ["file"]
    assert run_worker(intake.runtime) == 0


def test_imports_are_for_admins_only(
    client: Any, admin_headers: dict[str, str], sales_headers: dict[str, str], manager_headers: dict[str, str]
) -> None:
    import_id = start(client, admin_headers, ledger(SMALL_LEDGER[:1])).get_json()["id"]

    for headers in (sales_headers, manager_headers):
        assert start(client, headers, ledger(SMALL_LEDGER[:1])).status_code == 403
        assert client.get(f"{API}/imports/{import_id}", headers=headers).status_code == 403
        assert client.get(f"{API}/imports/{import_id}/report.xlsx", headers=headers).status_code == 403
        assert client.post(f"{API}/imports/{import_id}/commit", headers=headers).status_code == 403


def test_the_source_and_report_are_sealed_at_rest_audited_on_download_and_expire(
    intake: harness.ServiceUnderTest,
    client: Any,
    tokens: harness.TokenFactory,
    intake_env: dict[str, str],
    audit_rows: Callable[[], list[dict[str, Any]]],
) -> None:
    with use_clock(FixedClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))) as fixed:
        admin = tokens.header(subject="admin-1", roles=["admin"])
        import_id = start(client, admin, ledger(SMALL_LEDGER[:2])).get_json()["id"]
        run_worker(intake.runtime)
        report(client, admin, import_id)
        folder = Path(intake_env["LOANBRIDGE_VAR_DIR"]) / "documents" / "imports" / import_id
        blobs = sorted(path.name for path in folder.iterdir())
        sealed = [(folder / name).read_bytes() for name in blobs]
        fixed.advance(timedelta(days=6, hours=23))
        assert imports.expire_old(intake.runtime) == 0
        fixed.advance(timedelta(hours=2))
        expired = imports.expire_old(intake.runtime)
        admin = tokens.header(subject="admin-1", roles=["admin"])
        status = client.get(f"{API}/imports/{import_id}", headers=admin).get_json()["status"]
        gone = client.get(f"{API}/imports/{import_id}/report.xlsx", headers=admin)

    assert blobs == ["report", "source"]
    for blob in sealed:
        assert not blob.startswith(b"PK")  # not a readable zip (.xlsx)
    assert [(row["actor"], row["action"]) for row in audit_rows()] == [("admin-1", "download_import_report")]
    assert expired == 1
    assert status == "expired"
    assert gone.status_code == 404
    assert list(folder.iterdir()) == []


# --- a large file ---------------------------------------------------------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
DISTRICT_CODES = ("370102", "370202", "370303", "370402", "370502", "370602", "370702", "370811", "370902", "371002",
                  "371102", "371302", "371402", "371502", "371602", "371702")  # fmt: skip
CITIES = ("济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁")
BAD_KINDS = (
    ("short_mobile", "手机号: "),
    ("bad_id_checksum", "身份证号: "),
    ("id_as_number", f"身份证号: {ID_STORED_AS_NUMBER}"),
    ("unknown_channel", "渠道: "),
    ("unknown_city", "城市: "),
    ("amount_as_words", "贷款金额: "),
)


@dataclass
class BigLedger:
    content: bytes
    bad: dict[int, str] = field(default_factory=dict)  # sheet row → the start of its reason
    repeats: set[int] = field(default_factory=set)  # rows of a person met earlier in the file
    known: set[int] = field(default_factory=set)  # rows of customers intake already has
    clear: list[str] = field(default_factory=list)  # a sample of names, mobiles and ID numbers in the file


def big_ledger(size: int, known_mobiles: list[str], *, seed: int = 20261128) -> BigLedger:
    """``size`` data rows, about 5% bad (each kind in turn), about 1% repeating an earlier person, a few for
    customers intake already knows, a blank row every 1,000 rows and a totals row at the end."""
    rng = random.Random(seed)
    bad_positions = set(rng.sample(range(size), size // 20))
    result = BigLedger(content=b"")
    people: list[tuple[str, str, str | None]] = []
    rows: list[list[Any]] = []
    sheet_row = 3
    for n in range(size):
        if n and n % 1000 == 0:
            rows.append([])
            sheet_row += 1
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[n // len(SURNAMES) % len(GIVEN)] + GIVEN[n % 7]
        mobile = f"139{n:08d}"
        id_text = (
            an_id(DISTRICT_CODES[n % 16], date(1960 + n % 40, 1 + n % 12, 1 + n % 28), n % 1000) if n % 2 else None
        )
        channel, city, amount = rng.choice(("抖音", "百度", "地推", "转介绍", "58同城")), CITIES[n % 8], 5 + n % 200
        if n in bad_positions:
            kind, reason = BAD_KINDS[len(result.bad) % len(BAD_KINDS)]
            if kind == "short_mobile":
                mobile = mobile[:-1]
            elif kind == "bad_id_checksum":
                first17 = an_id("370102", date(1980, 1, 1), n % 1000)[:17]
                id_text = first17 + ("0" if id_check_char(first17) != "0" else "1")
            elif kind == "id_as_number":
                id_text = float(an_id("370102", date(1981, 2, 2), n % 1000)[:17] + "0")  # type: ignore[assignment]
            elif kind == "unknown_channel":
                channel = "快手"
            elif kind == "unknown_city":
                city = "上海"
            else:
                amount = "面议"  # type: ignore[assignment]
            result.bad[sheet_row] = reason
        elif n % 97 == 96 and people:
            name, mobile, id_text = people[rng.randrange(len(people))]
            result.repeats.add(sheet_row)
        elif n % 3001 == 3000 and known_mobiles:
            name, mobile, id_text = "张三丰", known_mobiles[len(result.known) % len(known_mobiles)], None
            result.known.add(sheet_row)
        else:
            people.append((name, mobile, id_text))
            if n % 500 == 0:
                result.clear.extend(value for value in (name, mobile, id_text) if value)
        rows.append([n + 1, name, mobile, id_text, "房抵贷" if n % 2 else "信用贷", amount, 36, channel, city, None,
                     None, None])  # fmt: skip
        sheet_row += 1
    rows.append(["合计", None, None, None, None, None, None, None, None, None, None, None])
    result.content = ledger(rows)
    return result


@pytest.mark.parametrize(
    ("size", "commit"),
    # Committing writes each row in its own transaction (about 6 ms each on SQLite): 10,000 rows are checked in a
    # dry run, and 1,000 rows go through the commit, to keep the suite fast.
    [(10_000, False), (1_000, True)],
    ids=["dry_run_of_10000_rows", "commit_of_1000_rows"],
)
def test_a_large_file_with_5_percent_bad_rows_reports_each_and_commits_exactly_the_good_ones(
    intake: harness.ServiceUnderTest,
    client: Any,
    tokens: harness.TokenFactory,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    size: int,
    commit: bool,
) -> None:
    known = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    file = big_ledger(size, ["13812345678"])
    good = size - len(file.bad)
    linked = len(file.repeats) + len(file.known)
    admin = tokens.header(subject="admin-1", roles=["admin"], ttl=3600)
    before = counts(intake)
    assert len(file.bad) == size // 20
    assert file.repeats

    import_id = start(client, admin, file.content).get_json()["id"]
    run_worker(intake.runtime)

    dry = client.get(f"{API}/imports/{import_id}", headers=admin).get_json()
    assert dry["status"] == "ready"
    assert (dry["rows_total"], dry["rows_rejected"]) == (size, len(file.bad))
    assert (dry["rows_new"], dry["rows_linked"]) == (good - linked, linked)
    rows, summary = report(client, admin, import_id)
    assert len(rows) == size
    rejected = {row[0]: row[2] for row in rows if row[1] == "拒绝"}
    assert set(rejected) == set(file.bad)
    for row_number, reason in file.bad.items():
        assert rejected[row_number].startswith(reason), (row_number, rejected[row_number])
    assert {row[0] for row in rows if row[1] == "将关联已有客户"} == file.repeats | file.known
    assert summary == {"总行数": size, "新建": good - linked, "关联": linked, "拒绝": len(file.bad)}
    text = every_cell(rows)
    for value in file.clear:
        assert value not in text, value
    if not commit:
        return

    client.post(f"{API}/imports/{import_id}/commit", headers=admin)
    run_worker(intake.runtime)

    done = client.get(f"{API}/imports/{import_id}", headers=admin).get_json()
    assert done["status"] == "committed"
    assert (done["rows_new"], done["rows_linked"], done["rows_rejected"]) == (good - linked, linked, len(file.bad))
    assert counts(intake) == {
        "leads": before["leads"] + good,
        "customers": before["customers"] + good - linked,
    }
    with intake.runtime.database.session() as session:
        on_known = session.execute(
            sa.select(sa.func.count()).where(orm.leads.c.customer_id == known["customer_id"])
        ).scalar_one()
    assert on_known == 1 + len(file.known)
