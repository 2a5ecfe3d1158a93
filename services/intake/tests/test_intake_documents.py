"""Component tests of documents: uploads judged by their bytes (PDF, PNG, JPEG) and size, sealed at rest,
downloaded intact by those who may see the lead (audited), and ``intake.document.uploaded``."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.testing import harness
from loanbridge.common.testing.synthetic import minimal_pdf
from loanbridge.intake import orm

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
MB = 1024 * 1024


def minimal_png() -> bytes:
    """A 1×1 8-bit grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b"")
    )


def minimal_jpeg() -> bytes:
    """A 1×1 grey baseline JPEG: one quantisation table, one-code Huffman tables, a DC of zero and an EOB."""
    huffman = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, for symbol 0
    return (
        b"\xff\xd8"
        + b"\xff\xdb\x00\x43\x00" + bytes([1] * 64)
        + b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
        + b"\xff\xc4\x00\x14\x00" + huffman
        + b"\xff\xc4\x00\x14\x10" + huffman
        + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
        + b"\x3f"
        + b"\xff\xd9"
    )  # fmt: skip


PDF, PNG, JPEG = minimal_pdf(), minimal_png(), minimal_jpeg()
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(200)


def upload(client: Any, lead_id: str, content: bytes, headers: dict[str, str], *, name: str = "x.pdf",
           doc_type: str = "credit_report") -> Any:  # fmt: skip
    return client.post(
        f"{API}/leads/{lead_id}/documents",
        data={"doc_type": doc_type, "file": (io.BytesIO(content), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def stored_blobs(var_dir: Path) -> list[Path]:
    root = var_dir / "documents"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def document_count(service: harness.ServiceUnderTest) -> int:
    with service.runtime.database.session() as session:
        return session.execute(sa.select(sa.func.count()).select_from(orm.documents)).scalar_one()


@pytest.fixture
def var_dir(intake_env: dict[str, str]) -> Path:
    return Path(intake_env["LOANBRIDGE_VAR_DIR"])


@pytest.fixture
def lead(client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder) -> dict[str, Any]:
    return client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [(PDF, "征信报告.pdf", "application/pdf"), (PNG, "scan.png", "image/png"), (JPEG, "photo.jpg", "image/jpeg")],
    ids=["pdf", "png", "jpeg"],
)
def test_an_upload_of_a_real_document_is_201_with_its_sha256_and_size_and_downloads_intact(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    lead: dict[str, Any],
    audit_rows: Callable[[], list[dict[str, Any]]],
    content: bytes,
    name: str,
    content_type: str,
) -> None:
    harness.drain_outbox(intake.runtime)

    response = upload(client, lead["id"], content, sales_headers, name=name)

    assert response.status_code == 201, response.get_json()
    document = response.get_json()
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert document["size_bytes"] == len(content)
    assert (document["lead_id"], document["doc_type"]) == (lead["id"], "credit_report")
    assert document["content_type"] == content_type
    assert document["uploaded_by"] == "sales-zhang"
    [event] = harness.drain_outbox(intake.runtime)
    assert (event.type, event.subject) == ("intake.document.uploaded", lead["id"])
    assert event.data == {"lead_id": lead["id"], "document_id": document["id"], "doc_type": "credit_report"}
    assert audit_rows() == []

    download = client.get(f"{API}/documents/{document['id']}/content", headers=sales_headers)

    assert download.status_code == 200
    assert download.data == content
    assert download.headers["Content-Type"] == content_type
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Cache-Control"] == "no-store"
    [audit] = audit_rows()
    assert (audit["actor"], audit["action"], audit["resource"]) == (
        "sales-zhang",
        "download_document",
        f"document:{document['id']}",
    )
    customer = client.get(f"{API}/customers/{lead['customer_id']}", headers=sales_headers).get_json()
    assert customer["leads"][0]["documents"] == [document]


def test_the_stored_blob_is_sealed_not_the_plaintext_and_the_filename_is_kept_nowhere(
    client: Any,
    sales_headers: dict[str, str],
    lead: dict[str, Any],
    var_dir: Path,
    intake_db_files: Callable[[], bytes],
) -> None:
    content = PDF + b"% statement of account 6222 0212 3456 7890\n"
    document = upload(client, lead["id"], content, sales_headers, name="张三丰_银行流水.pdf").get_json()

    [blob] = stored_blobs(var_dir)

    assert blob.parts[-2:] == (lead["customer_id"], document["id"])
    sealed = blob.read_bytes()
    assert sealed != content
    assert b"%PDF" not in sealed
    assert b"6222 0212" not in sealed
    assert len(sealed) == len(content) + 1 + 12 + 16  # version, nonce, tag
    assert "张三丰".encode() not in intake_db_files()
    assert "银行流水.pdf".encode() not in intake_db_files()


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (ELF, "征信报告.pdf"),
        (b"MZ\x90\x00\x03" + bytes(100), "statement.pdf"),
        (b"<html><script>alert(1)</script></html>", "id.png"),
        (b"PK\x03\x04" + bytes(60), "scan.jpg"),
        (b"", "empty.pdf"),
    ],
    ids=["elf_named_pdf", "windows_exe_named_pdf", "html_named_png", "zip_named_jpg", "empty"],
)
def test_bytes_that_are_not_a_pdf_png_or_jpeg_are_422_naming_file_whatever_the_name(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    lead: dict[str, Any],
    var_dir: Path,
    content: bytes,
    name: str,
) -> None:
    harness.drain_outbox(intake.runtime)

    response = upload(client, lead["id"], content, sales_headers, name=name)

    assert response.status_code == 422
    assert list(response.get_json()["details"]["fields"]) == ["file"]
    assert document_count(intake) == 0
    assert stored_blobs(var_dir) == []
    assert harness.drain_outbox(intake.runtime) == []


def test_an_unknown_document_type_or_no_file_is_422_naming_the_field(
    client: Any, sales_headers: dict[str, str], lead: dict[str, Any]
) -> None:
    bad_type = upload(client, lead["id"], PDF, sales_headers, doc_type="selfie")
    no_file = client.post(
        f"{API}/leads/{lead['id']}/documents",
        data={"doc_type": "credit_report"},
        headers=sales_headers,
        content_type="multipart/form-data",
    )

    assert bad_type.status_code == 422
    assert "doc_type" in bad_type.get_json()["details"]["fields"]
    assert no_file.status_code == 422
    assert "file" in no_file.get_json()["details"]["fields"]


@pytest.fixture
def small_intake(tmp_path: Path, tokens: harness.TokenFactory) -> Iterator[harness.ServiceUnderTest]:
    """intake configured to accept documents of at most 1 MB."""
    env = harness.environment_for_tests(tmp_path / "small", LOANBRIDGE_INTAKE_MAX_DOCUMENT_MB="1")
    (tmp_path / "small").mkdir()
    service = harness.service_runtime("intake", env, tokens=tokens)
    yield service
    service.runtime.database.dispose()


def test_the_configured_size_limit_takes_exactly_that_many_megabytes(
    small_intake: harness.ServiceUnderTest, sales_headers: dict[str, str], new_lead: LeadBuilder, tmp_path: Path
) -> None:
    client = small_intake.client()
    lead = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    at_limit = PDF + b"%" * (MB - len(PDF))
    over = at_limit + b"%"

    accepted = upload(client, lead["id"], at_limit, sales_headers)
    refused = upload(client, lead["id"], over, sales_headers)
    far_over = upload(client, lead["id"], at_limit * 3, sales_headers)

    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["size_bytes"] == MB
    assert refused.status_code == 422
    assert refused.get_json()["details"]["fields"]["file"] == ["文件大小超过 1 MB 的上限"]
    # Far beyond the limit the body itself is refused before it is read.
    assert far_over.status_code == 413
    assert far_over.get_json()["code"] == "payload_too_large"
    assert document_count(small_intake) == 1
    assert len(stored_blobs(tmp_path / "small" / "var")) == 1


def test_another_salesperson_or_partner_gets_404_for_the_document_and_its_lead(
    intake: harness.ServiceUnderTest,
    client: Any,
    sales_headers: dict[str, str],
    other_sales_headers: dict[str, str],
    manager_headers: dict[str, str],
    partner: dict[str, Any],
    other_partner: dict[str, Any],
    lead: dict[str, Any],
    new_lead: LeadBuilder,
    audit_rows: Callable[[], list[dict[str, Any]]],
) -> None:
    staff_document = upload(client, lead["id"], PDF, sales_headers).get_json()
    partner_lead = client.post(
        f"{API}/leads",
        json=new_lead(external_ref="RT-9", name="李四光", mobile="13905310000", id_number="370202199003054564"),
        headers=partner["headers"],
    ).get_json()
    partner_upload = upload(client, partner_lead["id"], PNG, partner["headers"], doc_type="id_card")
    assert partner_upload.status_code == 201
    partner_document = partner_upload.get_json()

    def fetch(document: dict[str, Any], headers: dict[str, str]) -> int:
        return client.get(f"{API}/documents/{document['id']}/content", headers=headers).status_code

    assert fetch(staff_document, other_sales_headers) == 404
    assert fetch(staff_document, partner["headers"]) == 404
    assert fetch(partner_document, other_partner["headers"]) == 404
    assert fetch(partner_document, other_sales_headers) == 404
    assert upload(client, lead["id"], PDF, other_sales_headers).status_code == 404
    assert upload(client, partner_lead["id"], PDF, other_partner["headers"]).status_code == 404
    assert client.get(f"{API}/documents/no-such-document/content", headers=sales_headers).status_code == 404
    assert audit_rows() == []
    assert document_count(intake) == 2
    # Those who may see the leads do get the bytes.
    assert fetch(partner_document, partner["headers"]) == 200
    assert fetch(staff_document, sales_headers) == 200
    assert fetch(partner_document, manager_headers) == 200  # a pool customer
    assert [row["actor"] for row in audit_rows()] == [partner["subject"], "sales-zhang", "mgr-wang"]
