"""intake on the real MariaDB and an S3-compatible server, through the gateway: one customer per person even
under races, no personal data in clear at rest, documents sealed in object storage, and each salesperson's scope."""

from __future__ import annotations

import io
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import requests

from tests.integration import leads
from tests.integration.support import Api, Stack, password_token, register_partner

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def staff(stack: Stack, admin: Api, username: str, roles: list[str]) -> Api:
    created = admin.post(
        "/api/identity/v1/users",
        json={"username": username, "password": "staff-pass-123", "display_name": username, "roles": roles},
    )
    assert created.status_code == 201, created.text
    return Api(stack.gateway, password_token(stack.gateway, username, "staff-pass-123"))


def test_two_leads_with_one_id_number_from_two_channels_are_one_customer(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "同人合作方")
    sales = staff(stack, admin, "sales.same", ["sales"])
    rng = random.Random(41)
    person = leads.lead(rng)

    first = partner.api.post("/api/intake/v1/leads", json=person)
    second = sales.post("/api/intake/v1/leads", json={**person, "mobile": leads.mobile(rng), "channel": "douyin"})

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["customer_id"] == second.json()["customer_id"]
    assert first.json()["duplicate_outcome"] == "new_customer"
    assert second.json()["duplicate_outcome"] == "pool_customer"


def test_leads_for_one_new_person_posted_at_the_same_instant_make_one_customer_and_no_5xx(
    stack: Stack, admin: Api
) -> None:
    partner = register_partner(stack, admin, "并发合作方")
    person = leads.lead(random.Random(43))
    start = threading.Barrier(12)

    def post(n: int) -> requests.Response:
        start.wait()
        return partner.api.post("/api/intake/v1/leads", json={**person, "external_ref": f"race-{n}"})

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(post, range(12)))

    assert [answer.status_code for answer in answers] == [201] * 12
    assert len({answer.json()["customer_id"] for answer in answers}) == 1
    assert sorted(answer.json()["duplicate_outcome"] for answer in answers).count("new_customer") == 1


def test_no_name_mobile_or_id_number_is_stored_in_clear_in_any_intake_table(stack: Stack, admin: Api) -> None:
    partner = register_partner(stack, admin, "明文检查合作方")
    rng = random.Random(47)
    bodies = [leads.lead(rng, name=f"欧阳{'明华娜伟芳'[n]}{'天地玄黄宇'[n]}") for n in range(5)]
    for body in bodies:
        assert partner.api.post("/api/intake/v1/leads", json=body).status_code == 201

    tables = [row[0] for row in stack.sql("intake", "SHOW TABLES")]
    stored = "\n".join(repr(tuple(row)) for table in tables for row in stack.sql("intake", f"SELECT * FROM `{table}`"))
    for body in bodies:
        for field in ("name", "mobile", "id_number"):
            assert body[field] not in stored, f"{field} stored in clear"


def test_a_document_is_sealed_in_object_storage_and_read_only_by_who_may(stack: Stack, admin: Api) -> None:
    owner = staff(stack, admin, "sales.docs", ["sales"])
    stranger = staff(stack, admin, "sales.other", ["sales"])
    lead = owner.post("/api/intake/v1/leads", json={**leads.lead(random.Random(53)), "channel": "ground"}).json()

    uploaded = owner.post(
        f"/api/intake/v1/leads/{lead['id']}/documents",
        data={"doc_type": "credit_report"},
        files={"file": ("征信报告.pdf", io.BytesIO(PDF), "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    document = uploaded.json()
    refused = owner.post(
        f"/api/intake/v1/leads/{lead['id']}/documents",
        data={"doc_type": "credit_report"},
        files={"file": ("征信报告.pdf", io.BytesIO(ELF), "application/pdf")},
    )
    assert refused.status_code == 422
    assert "file" in refused.json()["details"]["fields"]

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id="integration",
        aws_secret_access_key="integration-secret",
        region_name="us-east-1",
    )
    bucket = stack.env["LOANBRIDGE_INTAKE_S3_BUCKET"]
    objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
    sealed = [s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read() for obj in objects]
    assert sealed and all(PDF not in blob and b"%PDF" not in blob for blob in sealed)

    downloaded = owner.get(f"/api/intake/v1/documents/{document['id']}/content")
    assert downloaded.status_code == 200 and downloaded.content == PDF
    assert stranger.get(f"/api/intake/v1/documents/{document['id']}/content").status_code == 404
    assert stranger.get(f"/api/intake/v1/customers/{lead['customer_id']}").status_code == 404
    assert lead["customer_id"] not in [item["id"] for item in stranger.get("/api/intake/v1/customers").json()["items"]]
    audited = stack.sql(
        "intake", "SELECT COUNT(*) FROM access_audit WHERE resource = :r", r=f"document:{document['id']}"
    )
    assert audited[0][0] == 1
