"""The PII scanner finds seeded values and any valid ID number or mobile, and ignores digits inside ids and hashes."""

from __future__ import annotations

import random
from pathlib import Path

import sqlalchemy as sa

from loanbridge.common.testing import synthetic
from loanbridge.common.testing.piiscan import Finding, PiiScanner

RNG = random.Random(5)
SEEDED_ID, OTHER_ID = synthetic.id_number(RNG), synthetic.id_number(RNG)
SEEDED_MOBILE, OTHER_MOBILE = "13905318866", "18605319977"
scanner = PiiScanner(names={"欧阳秋实"}, id_numbers={SEEDED_ID}, mobiles={SEEDED_MOBILE})


def test_seeded_values_and_unseeded_valid_numbers_are_found_without_showing_them() -> None:
    text = f'{{"note": "客户欧阳秋实, 手机{SEEDED_MOBILE}, 证件 {SEEDED_ID}", "other": "{OTHER_ID}/{OTHER_MOBILE}"}}'

    findings = scanner.scan_text("body:lead", text)

    assert {finding.kind for finding in findings} == {
        "seeded_name", "seeded_mobile", "seeded_id_number", "id_number", "mobile"
    }  # fmt: skip
    report = "\n".join(str(finding) for finding in findings)
    assert all(value not in report for value in ("欧阳秋实", SEEDED_MOBILE, SEEDED_ID, OTHER_ID, OTHER_MOBILE))


def test_masked_values_ids_hashes_and_invalid_numbers_are_not_findings() -> None:
    broken_id = SEEDED_ID[:17] + ("0" if SEEDED_ID[17] != "0" else "1")  # wrong check character
    text = " ".join([
        "139****8866", "3701**********1235",  # masked as the API shows them
        "4f2a9c1e-7d3b-4a13-9e8f-a13905318866",  # a uuid whose last group holds mobile-like digits
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # a sha256
        broken_id, "12345678901", "1700000000000",  # a bad check character, no such block, a timestamp in ms
    ])  # fmt: skip

    assert scanner.scan_text("log", text) == []


def test_every_text_column_of_every_table_is_scanned(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/scan.db")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, blob BLOB, n INTEGER)"))
        connection.execute(sa.text("INSERT INTO notes (body, blob, n) VALUES ('干净', :blob, 13905318866)"),
                           {"blob": f"联系 {OTHER_MOBILE}".encode()})  # fmt: skip
    engine.dispose()

    findings = scanner.scan_database(f"sqlite:///{tmp_path}/scan.db", label="demo")

    assert findings == [Finding("db:demo.notes.blob", "mobile")]


def test_log_files_are_scanned(tmp_path: Path) -> None:
    (tmp_path / "intake-web.log").write_text('{"event": "lead_created", "lead_id": "x"}\n', encoding="utf-8")
    (tmp_path / "notify-worker.log").write_text(f'{{"event": "sent", "to": "{SEEDED_MOBILE}"}}\n', encoding="utf-8")

    assert scanner.scan_files(tmp_path) == [Finding("file:notify-worker.log", "seeded_mobile")]
