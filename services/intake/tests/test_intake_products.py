"""Component tests of products and their forms: the defaults, drafts checked before they are saved, publishing a
version (leads keep the one they were filled with), who may change forms, and lead form values checked against
the form with zh-CN reasons."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from loanbridge.common.testing import harness
from loanbridge.intake import orm

API = "/api/intake/v1"
LeadBuilder = Callable[..., dict[str, Any]]
CJK = re.compile(r"[\u4e00-\u9fff]")


def house_form(client: Any, headers: dict[str, str], version: int = 1) -> dict[str, Any]:
    forms = client.get(f"{API}/products/house/forms", headers=headers).get_json()
    return next(form for form in forms if form["version"] == version)


def with_land_use(definition: dict[str, Any]) -> dict[str, Any]:
    """The house form plus a required 土地性质 field and one more required document."""
    changed = copy.deepcopy(definition)
    changed["properties"]["land_use"] = {"type": "string", "title": "土地性质", "enum": ["residential", "commercial"]}
    changed["required"].append("land_use")
    changed["x-required-documents"].append("asset_proof")
    return changed


def form_count(intake: harness.ServiceUnderTest) -> int:
    with intake.runtime.database.session() as session:
        return session.execute(sa.select(sa.func.count()).select_from(orm.product_forms)).scalar_one()


# --- defaults -------------------------------------------------------------------------------------------------------
def test_the_three_default_products_are_listed_with_published_version_1(
    client: Any, sales_headers: dict[str, str]
) -> None:
    response = client.get(f"{API}/products", headers=sales_headers)

    assert response.status_code == 200
    assert response.get_json() == [
        {"code": "car", "name": "车抵贷", "active": True, "published_version": 1},
        {"code": "credit", "name": "信抵贷", "active": True, "published_version": 1},
        {"code": "house", "name": "房抵贷", "active": True, "published_version": 1},
    ]


@pytest.mark.parametrize(
    ("product", "fields"),
    [
        ("house", {"property_city", "property_area", "property_valuation", "existing_mortgage_balance"}),
        ("car", {"vehicle_brand", "vehicle_age_years", "vehicle_valuation"}),
        ("credit", {"employer_type", "monthly_income", "social_security_months"}),
    ],
)
def test_each_default_form_asks_what_its_product_needs_with_chinese_titles(
    client: Any, sales_headers: dict[str, str], product: str, fields: set[str]
) -> None:
    [form] = client.get(f"{API}/products/{product}/forms", headers=sales_headers).get_json()

    assert (form["version"], form["status"]) == (1, "published")
    properties = form["definition"]["properties"]
    assert set(properties) >= fields | {"monthly_debt_payment", "credit_inquiries_3m", "overdue_count_24m"}
    assert all(CJK.search(spec["title"]) for spec in properties.values())
    assert "id_card" in form["definition"]["x-required-documents"]
    assert {"credit_inquiries_3m", "overdue_count_24m"} <= {
        name for name, spec in properties.items() if spec.get("x-risk-feature")
    }


# --- drafts and publishing ------------------------------------------------------------------------------------------
def test_a_published_draft_retires_version_1_and_only_later_leads_are_filled_with_it(
    intake: harness.ServiceUnderTest,
    client: Any,
    admin_headers: dict[str, str],
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
) -> None:
    v1 = house_form(client, admin_headers)
    draft = client.post(
        f"{API}/products/house/forms",
        json={"definition": with_land_use(v1["definition"]), "note": "增加土地性质"},
        headers=admin_headers,
    )
    assert draft.status_code == 201, draft.get_json()
    assert (draft.get_json()["version"], draft.get_json()["status"]) == (2, "draft")
    assert draft.get_json()["created_by"] == "admin-1"
    products = client.get(f"{API}/products", headers=sales_headers).get_json()
    assert next(p for p in products if p["code"] == "house")["published_version"] == 1
    before = client.post(f"{API}/leads", json=new_lead(channel="douyin"), headers=sales_headers).get_json()
    too_early = client.post(
        f"{API}/leads",
        json=new_lead(channel="douyin", form={**new_lead()["form"], "land_use": "residential"}),
        headers=sales_headers,
    )

    published = client.post(f"{API}/products/house/forms/2/publish", headers=admin_headers)

    assert too_early.status_code == 422
    assert "land_use" in too_early.get_json()["details"]["fields"]["form"]
    assert published.status_code == 200
    assert (published.get_json()["status"], published.get_json()["published_by"]) == ("published", "admin-1")
    statuses = {
        form["version"]: form["status"]
        for form in client.get(f"{API}/products/house/forms", headers=sales_headers).get_json()
    }
    assert statuses == {1: "retired", 2: "published"}
    products = client.get(f"{API}/products", headers=sales_headers).get_json()
    assert next(p for p in products if p["code"] == "house")["published_version"] == 2
    after = client.post(
        f"{API}/leads",
        json=new_lead(channel="douyin", form={**new_lead()["form"], "land_use": "residential"}),
        headers=sales_headers,
    )
    assert after.status_code == 201, after.get_json()
    customer = client.get(f"{API}/customers/{before['customer_id']}", headers=sales_headers).get_json()
    versions = {lead["id"]: lead["form_version"] for lead in customer["leads"]}
    assert versions == {before["id"]: 1, after.get_json()["id"]: 2}
    # Each lead is reviewed against its own version.
    old = client.post(f"{API}/leads/{before['id']}/submit", headers=sales_headers).get_json()
    new = client.post(f"{API}/leads/{after.get_json()['id']}/submit", headers=sales_headers).get_json()
    assert (old["form_version"], new["form_version"]) == (1, 2)
    assert "asset_proof" not in old["required_documents"]
    assert "asset_proof" in new["required_documents"]
    assert "land_use" not in old["missing_fields"]
    assert "land_use" not in new["missing_fields"]
    assert form_count(intake) == 4


def test_publishing_twice_or_an_unknown_version_is_refused(client: Any, admin_headers: dict[str, str]) -> None:
    v1 = house_form(client, admin_headers)
    client.post(f"{API}/products/house/forms", json={"definition": v1["definition"]}, headers=admin_headers)
    client.post(f"{API}/products/house/forms/2/publish", headers=admin_headers)

    again = client.post(f"{API}/products/house/forms/2/publish", headers=admin_headers)
    retired = client.post(f"{API}/products/house/forms/1/publish", headers=admin_headers)
    unknown = client.post(f"{API}/products/house/forms/9/publish", headers=admin_headers)
    no_product = client.post(f"{API}/products/boat/forms", json={"definition": v1["definition"]}, headers=admin_headers)

    assert (again.status_code, again.get_json()["code"]) == (409, "form_not_draft")
    assert (retired.status_code, retired.get_json()["code"]) == (409, "form_not_draft")
    assert unknown.status_code == 404
    assert no_product.status_code == 404


VALID_FIELD = {"type": "number", "title": "月收入(元)", "minimum": 0}
BAD_DEFINITIONS = [
    (
        "not_a_json_schema",
        {"type": "object", "properties": {"monthly_income": {"type": "numbr", "title": "月收入(元)"}}},
    ),
    ("not_an_object_form", {"type": "array", "items": {"type": "string"}}),
    ("field_without_title", {"type": "object", "properties": {"monthly_income": {"type": "number"}}}),
    (
        "unknown_required_document",
        {"type": "object", "properties": {"monthly_income": VALID_FIELD}, "x-required-documents": ["passport_scan"]},
    ),
    (
        "pii_and_risk_feature_at_once",
        {
            "type": "object",
            "properties": {"monthly_income": {**VALID_FIELD, "x-pii": True, "x-risk-feature": True}},
        },
    ),
    ("unsafe_field_name", {"type": "object", "properties": {"Monthly Income": VALID_FIELD}}),
    ("required_field_missing", {"type": "object", "properties": {"monthly_income": VALID_FIELD}, "required": ["age"]}),
    ("not_json_object", "房抵贷申请表"),
]


@pytest.mark.parametrize("definition", [d for _, d in BAD_DEFINITIONS], ids=[i for i, _ in BAD_DEFINITIONS])
def test_a_bad_form_definition_is_422_naming_definition_and_saves_nothing(
    intake: harness.ServiceUnderTest, client: Any, admin_headers: dict[str, str], definition: Any
) -> None:
    before = form_count(intake)

    response = client.post(f"{API}/products/house/forms", json={"definition": definition}, headers=admin_headers)

    assert response.status_code == 422
    problems = response.get_json()["details"]["fields"]["definition"]
    assert problems
    assert all(CJK.search(problem) for problem in problems), problems
    assert form_count(intake) == before


def test_a_good_definition_with_every_extension_is_accepted(client: Any, admin_headers: dict[str, str]) -> None:
    definition = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "monthly_income": {**VALID_FIELD, "x-risk-feature": True},
            "employer_name": {"type": "string", "title": "工作单位", "x-pii": True},
        },
        "required": ["monthly_income"],
        "x-required-documents": ["id_card", "income_proof"],
    }

    response = client.post(f"{API}/products/credit/forms", json={"definition": definition}, headers=admin_headers)

    assert response.status_code == 201
    assert response.get_json()["definition"] == definition


def test_only_admins_add_products_save_drafts_or_publish(
    client: Any,
    tokens: harness.TokenFactory,
    admin_headers: dict[str, str],
    sales_headers: dict[str, str],
    manager_headers: dict[str, str],
    partner: dict[str, Any],
) -> None:
    definition = house_form(client, admin_headers)["definition"]
    risk = tokens.header(roles=["risk_director"])

    for headers in (sales_headers, manager_headers, partner["headers"], risk):
        assert (
            client.post(f"{API}/products", json={"code": "biz", "name": "经营贷"}, headers=headers).status_code == 403
        )
        draft = client.post(f"{API}/products/house/forms", json={"definition": definition}, headers=headers)
        assert draft.status_code == 403
    client.post(f"{API}/products/house/forms", json={"definition": definition}, headers=admin_headers)
    for headers in (sales_headers, manager_headers, partner["headers"], risk):
        assert client.post(f"{API}/products/house/forms/2/publish", headers=headers).status_code == 403
    assert house_form(client, admin_headers, version=2)["status"] == "draft"


def test_a_new_product_takes_leads_once_its_form_is_published(
    client: Any, admin_headers: dict[str, str], sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    created = client.post(f"{API}/products", json={"code": "biz", "name": "经营贷"}, headers=admin_headers)
    lead = new_lead(channel="douyin", product="biz", form={"monthly_income": 30000})
    refused = client.post(f"{API}/leads", json=lead, headers=sales_headers)
    definition = {"type": "object", "additionalProperties": False,
                  "properties": {"monthly_income": {**VALID_FIELD, "x-risk-feature": True}}}  # fmt: skip
    client.post(f"{API}/products/biz/forms", json={"definition": definition}, headers=admin_headers)
    client.post(f"{API}/products/biz/forms/1/publish", headers=admin_headers)

    accepted = client.post(f"{API}/leads", json=lead, headers=sales_headers)

    assert created.status_code == 201
    assert created.get_json() == {"code": "biz", "name": "经营贷", "active": True, "published_version": None}
    assert refused.status_code == 422
    assert "product" in refused.get_json()["details"]["fields"]
    assert accepted.status_code == 201, accepted.get_json()
    duplicate = client.post(f"{API}/products", json={"code": "biz", "name": "经营贷"}, headers=admin_headers)
    assert (duplicate.status_code, duplicate.get_json()["code"]) == (409, "product_code_taken")


def test_publishing_a_form_announces_its_risk_features_and_required_documents_to_risk(
    intake: harness.ServiceUnderTest, client: Any, admin_headers: dict[str, str]
) -> None:
    client.post(f"{API}/products", json={"code": "biz", "name": "经营贷"}, headers=admin_headers)
    definition = {"type": "object", "additionalProperties": False, "x-required-documents": ["income_proof"],
                  "properties": {"monthly_income": {**VALID_FIELD, "x-risk-feature": True},
                                 "shop_name": {"type": "string", "title": "店铺名称", "x-pii": True}}}  # fmt: skip
    saved = client.post(f"{API}/products/biz/forms", json={"definition": definition}, headers=admin_headers)
    assert saved.status_code == 201, saved.get_json()
    harness.drain_outbox(intake.runtime)

    assert client.post(f"{API}/products/biz/forms/1/publish", headers=admin_headers).status_code == 200

    [event] = harness.drain_outbox(intake.runtime)
    assert (event.type, event.subject) == ("intake.product.published", "product:biz")
    assert event.data == {
        "product": "biz",
        "form_version": 1,
        "risk_features": [{"name": "monthly_income", "type": "number", "title": VALID_FIELD["title"]}],
        "required_documents": ["income_proof"],
    }


# --- form values on leads -------------------------------------------------------------------------------------------
BAD_VALUES = [
    ("text_for_a_number", "house", {"property_area": "一百二十"}, "property_area", "房产面积(平方米)应为数字"),
    ("bool_for_a_number", "house", {"monthly_income": True}, "monthly_income", "月收入(元)应为数字"),
    ("below_minimum", "house", {"property_valuation": -1}, "property_valuation", "房产估值(元)不能小于 0"),
    ("not_above_exclusive_minimum", "house", {"property_area": 0}, "property_area", "房产面积(平方米)必须大于 0"),
    ("above_maximum", "house", {"credit_inquiries_3m": 501}, "credit_inquiries_3m", "近3个月征信查询次数不能大于 500"),
    ("fraction_for_an_integer", "house", {"overdue_count_24m": 1.5}, "overdue_count_24m", "近24个月逾期次数应为整数"),
    ("empty_text", "house", {"property_city": ""}, "property_city", "房产所在城市至少 1 个字符"),
    ("outside_the_enum", "credit", {"employer_type": "pirate"}, "employer_type", "单位性质取值无效"),
    ("unknown_field", "house", {"wechat_id": "zsf1985"}, "wechat_id", "不是该产品表单中的字段"),
    ("short_plate", "car", {"vehicle_plate": "鲁A1"}, "vehicle_plate", "车牌号至少 5 个字符"),
]


@pytest.mark.parametrize(
    ("product", "values", "field", "message"),
    [case[1:] for case in BAD_VALUES],
    ids=[case[0] for case in BAD_VALUES],
)
def test_a_bad_form_value_is_422_under_its_form_field_in_chinese_and_writes_nothing(
    client: Any,
    sales_headers: dict[str, str],
    new_lead: LeadBuilder,
    row_counts: Callable[[], dict[str, int]],
    product: str,
    values: dict[str, Any],
    field: str,
    message: str,
) -> None:
    counts = row_counts()

    response = client.post(
        f"{API}/leads", json=new_lead(channel="douyin", product=product, form=values), headers=sales_headers
    )

    assert response.status_code == 422
    error = response.get_json()
    assert error["code"] == "validation_error"
    assert error["details"]["fields"]["form"][field] == [message]
    assert row_counts() == counts
    for value in values.values():
        if isinstance(value, str) and value:
            assert value not in response.get_data(as_text=True)


def test_several_bad_form_values_are_all_named_at_once(
    client: Any, sales_headers: dict[str, str], new_lead: LeadBuilder
) -> None:
    form = {"property_area": -5, "property_valuation": "很多", "monthly_income": 20000}

    response = client.post(f"{API}/leads", json=new_lead(channel="douyin", form=form), headers=sales_headers)

    assert response.status_code == 422
    assert set(response.get_json()["details"]["fields"]["form"]) == {"property_area", "property_valuation"}
