"""Import of an Excel ledger of 10,000 rows (about 5% bad), end to end through the gateway: upload, dry run,
report, commit, every good row a lead.

    .venv/bin/python bench/intake_import.py [--rows 10000] [--embedded]

It starts its own stack (distributed mode on the local MariaDB and RabbitMQ; or ``--embedded``), uploads the file
as an admin, waits for the dry run, downloads the report, commits, and waits until every row is done, printing the
time of each step.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loanbridge.common.testing.waiting import wait_until  # noqa: E402
from tests.embedded.support import EmbeddedProcess  # noqa: E402
from tests.integration import leads  # noqa: E402
from tests.integration.support import Api, password_token, running_stack  # noqa: E402

PRODUCT_NAMES = {"house": "房抵贷", "credit": "信用贷", "car": "车抵贷"}


def ledger(rows: int, seed: int) -> tuple[bytes, int]:
    """A ledger as firms keep it, with about 5% of rows bad in various ways; returns it and the bad count."""
    rng = random.Random(seed)
    book = Workbook()
    sheet = book.active
    sheet.append(["2026年客户台账"])
    sheet.merge_cells("A1:H1")
    sheet.append(["姓名", "手机号", "身份证号", "产品", "贷款金额(万元)", "期限", "渠道", "城市"])
    bad = 0
    for n in range(rows):
        body = leads.lead(rng)
        product = PRODUCT_NAMES[body["product"]]
        row = [body["name"], body["mobile"], body["id_number"], product, body["amount"] / 10000,
               f"{body['term_months']}期", "抖音", body["city"]]  # fmt: skip
        if n % 20 == 7:  # 5%: a wrong mobile, an unknown city, an ID stored as a number, no amount
            bad += 1
            fault = (n // 20) % 4
            if fault == 0:
                row[1] = "1381234"
            elif fault == 1:
                row[7] = "北京"
            elif fault == 2:
                row[2] = int(row[2][:17]) * 10
            else:
                row[4] = None
        sheet.append(row)
    sheet.append(["合计", None, None, None, None, None, None, None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), bad


def run(base: str, admin: Api, content: bytes, expected_bad: int, rows: int) -> None:
    timings = {}
    started = time.perf_counter()
    answer = admin.post("/api/intake/v1/imports", files={"file": ("台账.xlsx", content)})
    assert answer.status_code == 202, answer.text
    import_id = answer.json()["id"]
    status = wait_until(lambda: _status(admin, import_id, "ready"), timeout=600, interval=0.5, message="dry run")
    timings["upload + dry run"] = time.perf_counter() - started
    assert status["rows_rejected"] == expected_bad, status
    report = admin.get(f"/api/intake/v1/imports/{import_id}/report.xlsx")
    assert report.status_code == 200
    committed_at = time.perf_counter()
    assert admin.post(f"/api/intake/v1/imports/{import_id}/commit").status_code == 202
    status = wait_until(lambda: _status(admin, import_id, "committed"), timeout=1200, interval=1, message="commit")
    timings["commit"] = time.perf_counter() - committed_at
    timings["end to end"] = time.perf_counter() - started
    print(
        f"import of {rows:,} rows ({expected_bad} bad) through {base}: "
        f"{status['rows_new']:,} created, {status['rows_linked']:,} linked, {status['rows_rejected']} rejected"
    )
    for step, seconds in timings.items():
        print(f"  {step:<16} {seconds:6.1f} s")


def _status(admin: Api, import_id: str, wanted: str) -> dict | None:
    body = admin.get(f"/api/intake/v1/imports/{import_id}").json()
    assert body["status"] != "failed", body
    return body if body["status"] == wanted else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--embedded", action="store_true")
    args = parser.parse_args()
    content, bad = ledger(args.rows, seed=2026)
    with tempfile.TemporaryDirectory() as tmp:
        if args.embedded:
            process = EmbeddedProcess(var_dir=Path(tmp) / "var")
            process.start()
            try:
                process.cli("create-admin", "--username", "bench", "--password", "bench-admin-1")
                run(process.url, Api(process.url, password_token(process.url, "bench", "bench-admin-1")), content, bad,
                    args.rows)  # fmt: skip
            finally:
                process.stop()
            return
        with running_stack(Path(tmp), through_proxies=False, web_workers=3) as stack:
            stack.cli("create-admin", "--username", "bench", "--password", "bench-admin-1")
            admin = Api(stack.gateway, password_token(stack.gateway, "bench", "bench-admin-1"))
            run(stack.gateway, admin, content, bad, args.rows)


if __name__ == "__main__":
    main()
