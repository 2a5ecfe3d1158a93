"""Component tests of lead submission: answers, replays, customer dedupe, validation and PII at rest."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]


def test_partner_submits_a_lead_and_is_told_the_new_customer_with_masked_personal_data(
    client: Any, partner: dict[str, Any], new_lead: LeadBuilder
) -> None:
    response = client.post(f"{API}/leads", json=new_lead(external_ref="RT-0001"), headers=partner["headers"])

    assert response.status_code == 201
    body = response.get_json()
    assert body["id"]
    assert body["customer_id"]
    assert body["duplicate_outcome"] == "new_customer"
    assert body["name"] == "张**"
    assert body["mobile"] == "138****5678"
    assert body["channel"] == partner["channel"]
    assert body["external_ref"] == "RT-0001"
    assert (body["product"], body["amount"], body["term_months"], body["city"]) == ("house", 500000, 36, "济南")
    assert "Idempotent-Replayed" not in response.headers
    text = response.get_data(as_text=True)
    assert "13812345678" not in text
    assert "370102198506121239" not in text
    assert "张三丰" not in text


def test_same_external_ref_and_same_body_answers_the_first_lead_marked_replayed(
    client: Any, partner: dict[str, Any], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(external_ref="RT-0001"), headers=partner["headers"])
    counts = row_counts()

    again = client.post(f"{API}/leads", json=new_lead(external_ref="RT-0001"), headers=partner["headers"])

    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert row_counts() == counts


def test_same_external_ref_with_a_different_body_is_409_and_writes_nothing(
    client: Any, partner: dict[str, Any], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    client.post(f"{API}/leads", json=new_lead(external_ref="RT-0001"), headers=partner["headers"])
    counts = row_counts()

    response = client.post(
        f"{API}/leads", json=new_lead(external_ref="RT-0001", amount=800000), headers=partner["headers"]
    )

    assert response.status_code == 409
    assert response.get_json()["code"] == "external_ref_reused"
    assert row_counts() == counts


def test_external_refs_of_different_partners_do_not_collide(
    client: Any, partner: dict[str, Any], other_partner: dict[str, Any], new_lead: LeadBuilder
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(external_ref="X-1"), headers=partner["headers"])
    second = client.post(f"{API}/leads", json=new_lead(external_ref="X-1", amount=1), headers=other_partner["headers"])

    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] != second.get_json()["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_same_idempotency_key_and_same_body_answers_the_first_lead_marked_replayed(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    headers = {**sales_headers, "Idempotency-Key": "form-submit-7f3a"}
    first = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers)
    counts = row_counts()

    again = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers)

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert row_counts() == counts


def test_same_idempotency_key_with_a_different_body_is_409_and_writes_nothing(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    headers = {**sales_headers, "Idempotency-Key": "form-submit-7f3a"}
    client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers)
    counts = row_counts()

    response = client.post(f"{API}/leads", json=new_lead(channel="douyin", term_months=12), headers=headers)

    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_key_reused"
    assert row_counts() == counts


def test_an_overlong_idempotency_key_is_422_naming_the_header(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    response = client.post(
        f"{API}/leads", json=new_lead(channel="douyin"), headers={**sales_headers, "Idempotency-Key": "k" * 129}
    )

    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["details"]["fields"]
    assert row_counts()["leads"] == 0


def test_without_a_key_the_same_body_twice_makes_two_leads_of_one_customer(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    second = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()

    assert first["id"] != second["id"]
    assert first["customer_id"] == second["customer_id"]


def test_second_lead_with_the_same_mobile_from_staff_links_to_the_same_customer_in_the_pool(
    client: Any,
    partner: dict[str, Any],
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"]).get_json()

    second = client.post(
        f"{API}/leads",
        json=new_lead(
            name="张三", mobile="+86 138-1234-5678", id_number=None, channel="ground", product="credit", form={}
        ),
        headers=sales_headers,
    )

    assert second.status_code == 201
    body = second.get_json()
    assert body["customer_id"] == first["customer_id"]
    assert body["duplicate_outcome"] == "pool_customer"
    assert body["id"] != first["id"]
    assert row_counts()["customers"] == 1
    assert row_counts()["leads"] == 2


def test_second_lead_with_the_same_id_number_links_to_the_existing_customer(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()

    second = client.post(
        f"{API}/leads", json=new_lead(channel="baidu", mobile="13905310000"), headers=sales_headers
    ).get_json()

    assert second["customer_id"] == first["customer_id"]
    assert second["duplicate_outcome"] == "pool_customer"


def test_a_different_person_becomes_a_new_customer(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()

    second = client.post(
        f"{API}/leads",
        json=new_lead(channel="douyin", name="李四", mobile="13905310000", id_number="370202199003054564"),
        headers=sales_headers,
    ).get_json()

    assert second["customer_id"] != first["customer_id"]
    assert second["duplicate_outcome"] == "new_customer"


BAD_BODIES = [
    ("missing_name", {"name": None}, "name"),
    ("blank_name", {"name": "   "}, "name"),
    ("amount_as_text", {"amount": "五十万"}, "amount"),
    ("amount_zero", {"amount": 0}, "amount"),
    ("term_months_zero", {"term_months": 0}, "term_months"),
    ("term_months_as_text", {"term_months": "36"}, "term_months"),
    ("malformed_mobile", {"mobile": "1381234567"}, "mobile"),
    ("landline_mobile", {"mobile": "0531-88886666"}, "mobile"),
    ("bad_id_checksum", {"id_number": "370102198506121230"}, "id_number"),
    ("unknown_field", {"wechat_id": "zhangsf88"}, "wechat_id"),
    ("city_outside_shandong", {"city": "北京"}, "city"),
    ("unknown_channel", {"channel": "tiktok_ads"}, "channel"),
    ("missing_channel", {"channel": None}, "channel"),
    ("unknown_product", {"product": "boat"}, "product"),
]


@pytest.mark.parametrize(("changes", "field"), [(c, f) for _, c, f in BAD_BODIES], ids=[i for i, _, _ in BAD_BODIES])
def test_bad_lead_bodies_are_422_naming_the_field_and_write_nothing(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    row_counts: Callable[[], dict[str, int]],
    changes: dict[str, Any],
    field: str,
) -> None:
    counts = row_counts()
    body = new_lead(channel="douyin")
    body.update(changes)
    body = {name: value for name, value in body.items() if value is not None}

    response = client.post(f"{API}/leads", json=body, headers=sales_headers)

    assert response.status_code == 422
    error = response.get_json()
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert row_counts() == counts
    assert "13812345678" not in response.get_data(as_text=True)


def test_partner_without_a_registered_channel_is_422_on_channel(
    client: Any, tokens: Any, new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    headers = tokens.header(subject="p_unregistered", roles=["partner"], partner_id="partner-without-channel")

    response = client.post(f"{API}/leads", json=new_lead(), headers=headers)

    assert response.status_code == 422
    assert "channel" in response.get_json()["details"]["fields"]
    assert row_counts()["leads"] == 0


def test_partner_cannot_submit_into_another_channel(
    client: Any, partner: dict[str, Any], new_lead: LeadBuilder
) -> None:
    response = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=partner["headers"])

    assert response.status_code == 422
    assert "channel" in response.get_json()["details"]["fields"]


def test_lead_submission_needs_a_token_and_a_submitting_role(client: Any, tokens: Any, new_lead: LeadBuilder) -> None:
    assert client.post(f"{API}/leads", json=new_lead(channel="douyin")).status_code == 401
    risk = tokens.header(roles=["risk_officer"])
    assert client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=risk).status_code == 403


def test_names_mobiles_and_id_numbers_are_not_in_clear_in_the_database_file(
    client: Any,
    partner: dict[str, Any],
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    intake_db_files: Callable[[], bytes],
) -> None:
    client.post(f"{API}/leads", json=new_lead(external_ref="RT-1"), headers=partner["headers"])
    client.post(
        f"{API}/leads",
        json=new_lead(channel="douyin", name="李四光", mobile="13905310000", id_number="370202199003054564"),
        headers=sales_headers,
    )

    stored = intake_db_files()

    assert stored
    for value in ("张三丰", "13812345678", "370102198506121239", "李四光", "13905310000", "370202199003054564"):
        assert value.encode() not in stored, value


def test_an_id_number_first_given_on_a_later_lead_still_recognises_the_customer(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    first = client.post(f"{API}/leads", json=new_lead(channel="douyin", id_number=None), headers=sales_headers)
    client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers)

    new_mobile = client.post(
        f"{API}/leads", json=new_lead(channel="baidu", mobile="13905310000"), headers=sales_headers
    ).get_json()

    assert new_mobile["customer_id"] == first.get_json()["customer_id"]
    assert new_mobile["duplicate_outcome"] == "pool_customer"
    assert row_counts()["customers"] == 1


def test_concurrent_first_leads_of_one_new_person_make_one_customer_and_no_error(
    intake: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    def submit(n: int) -> Any:
        body = new_lead(channel="douyin", external_ref=f"WEB-{n}")
        return intake.client().post(f"{API}/leads", json=body, headers=sales_headers)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(submit, range(6)))

    assert [response.status_code for response in responses] == [201] * 6
    outcomes = sorted(response.get_json()["duplicate_outcome"] for response in responses)
    assert outcomes == ["new_customer"] + ["pool_customer"] * 5
    assert len({response.get_json()["customer_id"] for response in responses}) == 1
    assert row_counts()["customers"] == 1
    assert row_counts()["leads"] == 6


def test_concurrent_retries_with_one_idempotency_key_make_one_lead(
    intake: Any, sales_headers: dict[str, str], new_lead: LeadBuilder, row_counts: Callable[[], dict[str, int]]
) -> None:
    headers = {**sales_headers, "Idempotency-Key": "retry-storm-1"}

    def submit(_: int) -> Any:
        return intake.client().post(f"{API}/leads", json=new_lead(channel="douyin"), headers=headers)

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(submit, range(4)))

    assert [response.status_code for response in responses] == [201] * 4
    assert len({response.get_json()["id"] for response in responses}) == 1
    assert sum("Idempotent-Replayed" in response.headers for response in responses) == 3
    assert row_counts()["leads"] == 1
