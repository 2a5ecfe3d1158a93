"""Key rotation in intake: keys re-wrapped under a new KEK, then every customer re-keyed and their values
re-sealed, documents included, with nothing left that only the old keys open."""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa

from loanbridge.common import clock
from loanbridge.common.pii.crypto import new_key_text
from loanbridge.common.testing import harness
from loanbridge.intake import orm
from loanbridge.intake.handlers import keys

API = "/api/intake/v1"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PEOPLE = [("王大明", "13812340001", "370102198506121239"), ("李小红", "13812340002", "370202199001011237")]


def lead(name: str, mobile: str, id_number: str) -> dict:
    return {
        "name": name, "mobile": mobile, "id_number": id_number, "city": "济南", "product": "house",
        "amount": 500000, "term_months": 36, "channel": "douyin",
        "form": {"property_city": "济南", "property_address": f"{name}家的地址", "property_area": 90},
    }  # fmt: skip


def test_rewrapped_and_rekeyed_customers_read_the_same_with_only_the_new_kek(tmp_path: Path) -> None:
    tokens = harness.TokenFactory()
    old_env = harness.environment_for_tests(tmp_path)
    before = harness.service_runtime("intake", old_env, tokens=tokens)
    sales = tokens.header(subject="sales-1", roles=["sales"])
    client = before.client()
    customers, documents = [], []
    for person in PEOPLE:
        created = client.post(f"{API}/leads", json=lead(*person), headers=sales).get_json()
        customers.append(created["customer_id"])
        client.post(
            f"{API}/leads/{created['id']}/followups",
            json={"method": "call", "outcome": "reached", "note": f"{person[0]}说下周来"},
            headers=sales,
        )
        upload = {"doc_type": "credit_report", "file": (io.BytesIO(PDF), "a.pdf")}
        documents.append(client.post(f"{API}/leads/{created['id']}/documents", data=upload, headers=sales).get_json())
    seen_before = [client.get(f"{API}/customers/{c}?unmask=true", headers=sales).get_json() for c in customers]

    # The new KEK goes live with the old one as "previous"; keys are re-wrapped, then re-keyed.
    rotating_env = {
        **old_env,
        "LOANBRIDGE_PII_KEK": new_key_text(),
        "LOANBRIDGE_PII_KEK_PREVIOUS": old_env["LOANBRIDGE_PII_KEK"],
    }
    rotating = harness.service_runtime("intake", rotating_env, tokens=tokens)
    assert keys.rewrap_keys(rotating.runtime) == len(customers)
    started = clock.now()
    assert keys.rekey_customers(rotating.runtime, before=started) == len(customers)

    after_env = {key: value for key, value in rotating_env.items() if key != "LOANBRIDGE_PII_KEK_PREVIOUS"}
    after = harness.service_runtime("intake", after_env, tokens=tokens)
    client = after.client()
    seen_after = [client.get(f"{API}/customers/{c}?unmask=true", headers=sales).get_json() for c in customers]
    for old_view, new_view in zip(seen_before, seen_after, strict=True):
        for field in ("name", "mobile", "id_number"):
            assert new_view[field] == old_view[field]
        assert new_view["leads"][0]["form"] == old_view["leads"][0]["form"]
        assert new_view["leads"][0]["followups"][0]["note"] == old_view["leads"][0]["followups"][0]["note"]
    for document in documents:
        assert client.get(f"{API}/documents/{document['id']}/content", headers=sales).data == PDF

    with after.runtime.database.session() as session:
        key_rows = session.execute(sa.select(orm.customer_keys)).all()
    assert {row.kek_id for row in key_rows} == {after.runtime.config.vault.kek.id}
    assert all(clock.as_utc(row.created_at) >= started for row in key_rows)
    stored = sorted(p.name for p in (tmp_path / "var" / "documents").rglob("*") if p.is_file())
    assert len(stored) == len(documents), "the blobs sealed with the old keys are gone"
