"""The app factory through a tiny service: JSON error bodies in zh-CN, field errors, 503 for a lost database, 500
without internals, request ids, health, readiness and metrics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, request
from marshmallow import fields
from prometheus_client.parser import text_string_to_metric_families

from loanbridge.common.app import Blueprint, build_app
from loanbridge.common.db import COMMON_MIGRATIONS
from loanbridge.common.errors import Conflict, InvalidInput, NotFound, RateLimited, Unavailable
from loanbridge.common.runtime import Runtime
from loanbridge.common.schemas import BaseSchema, CursorPageSchema, IdNumberField, MobileField, load
from loanbridge.common.service import ServiceSpec

SECRET = "13812341234 with password hunter2"
API = "/api/demo/v1"


class LeadIn(BaseSchema):
    name = fields.String(required=True)
    amount = fields.Integer(required=True)
    mobile = MobileField(required=True)
    id_number = IdNumberField()
    city = fields.String(required=True, error_messages={"required": "请选择城市"})
    tags = fields.List(fields.String())


class LeadOut(BaseSchema):
    name = fields.String()
    amount = fields.Integer()
    mobile = fields.String()
    id_number = fields.String()
    city = fields.String()


def demo_blueprint() -> Blueprint:
    blp = Blueprint("demo", __name__, url_prefix=API)

    @blp.post("/leads")
    @blp.arguments(LeadIn)
    @blp.response(201, LeadOut)
    def create_lead(lead: dict[str, Any]) -> dict[str, Any]:
        return lead

    @blp.get("/leads")
    @blp.arguments(CursorPageSchema, location="query")
    @blp.response(200)
    def list_leads(page: dict[str, Any]) -> dict[str, Any]:
        return {"limit": page["limit"], "cursor": page["cursor"]}

    @blp.post("/imports")
    @blp.response(201)
    def import_lead() -> dict[str, Any]:
        return load(LeadIn(), request.form.to_dict() if request.form else request.get_json(silent=True))

    @blp.get("/ping")
    @blp.response(200)
    def ping() -> dict[str, str]:
        return {"pong": "ok"}

    @blp.get("/missing")
    def missing() -> None:
        raise NotFound()

    @blp.get("/conflict")
    def conflict() -> None:
        raise Conflict("该客户已有负责人", code="customer_owned", details={"customer_id": "c-1"})

    @blp.get("/rate-limited")
    def rate_limited() -> None:
        raise RateLimited(retry_after=7)

    @blp.get("/bad-field")
    def bad_field() -> None:
        raise InvalidInput.for_field("term_months", "期限必须在 1 到 360 个月之间")

    @blp.get("/bug")
    def bug() -> None:
        raise RuntimeError(SECRET)

    @blp.get("/database-down")
    def database_down() -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("Can't connect to MySQL server"))

    @blp.get("/sql-bug")
    def sql_bug() -> None:
        raise sa.exc.ProgrammingError("SELECT * FROM leads", {}, Exception(SECRET))

    return blp


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime("demo")


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return build_app(runtime, blueprints=[demo_blueprint()])


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


VALID_LEAD = {"name": "张三", "amount": 300000, "mobile": "+86 138 1234 1234", "city": "济南"}


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert any("\u4e00" <= char <= "\u9fff" for char in body["message"]), body["message"]


# --- request validation -------------------------------------------------------------------------------------------


def test_valid_request_is_loaded_with_normalised_values(client: Any) -> None:
    response = client.post(f"{API}/leads", json={**VALID_LEAD, "id_number": "11010519491231002x"})

    assert response.status_code == 201
    assert response.get_json()["mobile"] == "13812341234"
    assert response.get_json()["id_number"] == "11010519491231002X"


def test_missing_required_fields_are_named_with_chinese_messages(client: Any) -> None:
    response = client.post(f"{API}/leads", json={"name": "张三"})

    assert response.status_code == 422
    body = response.get_json()
    assert_error_shape(body, "validation_error")
    assert body["message"] == "请求参数有误"
    assert body["details"]["fields"]["amount"] == ["此字段为必填项"]
    assert body["details"]["fields"]["mobile"] == ["此字段为必填项"]
    assert "name" not in body["details"]["fields"]


def test_message_written_by_the_schema_author_wins_over_the_default(client: Any) -> None:
    response = client.post(f"{API}/leads", json={key: v for key, v in VALID_LEAD.items() if key != "city"})

    assert response.get_json()["details"]["fields"]["city"] == ["请选择城市"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "三十万", "必须是整数"),
        ("name", 12, "必须是文本"),
        ("tags", "vip", "必须是列表"),
    ],
)
def test_value_of_the_wrong_type_is_named_with_a_chinese_message(
    client: Any, field: str, value: Any, message: str
) -> None:
    response = client.post(f"{API}/leads", json={**VALID_LEAD, field: value})

    assert response.status_code == 422
    assert response.get_json()["details"]["fields"][field] == [message]


def test_invalid_mobile_and_id_number_are_named_without_echoing_them(client: Any) -> None:
    response = client.post(
        f"{API}/leads", json={**VALID_LEAD, "mobile": "12812341234", "id_number": "11010519491231002"}
    )

    body = response.get_json()
    assert response.status_code == 422
    assert "手机号" in body["details"]["fields"]["mobile"][0]
    assert "身份证号" in body["details"]["fields"]["id_number"][0]
    assert "12812341234" not in response.get_data(as_text=True)
    assert "11010519491231002" not in response.get_data(as_text=True)


def test_unknown_field_is_refused_by_name(client: Any) -> None:
    response = client.post(f"{API}/leads", json={**VALID_LEAD, "salary": 9000})

    assert response.status_code == 422
    assert response.get_json()["details"]["fields"]["salary"] == ["不支持的字段"]


def test_query_arguments_are_validated_with_chinese_messages(client: Any) -> None:
    assert client.get(f"{API}/leads").get_json() == {"limit": 50, "cursor": None}

    response = client.get(f"{API}/leads?limit=0")

    assert response.status_code == 422
    assert response.get_json()["details"]["fields"]["limit"] == ["必须在 1 到 500 之间"]


def test_a_body_that_is_not_json_is_a_400_naming_the_body(client: Any) -> None:
    response = client.post(f"{API}/leads", data='{"name": "张', headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    body = response.get_json()
    assert_error_shape(body, "bad_request")
    assert body["details"]["fields"] == {"body": ["请求体不是有效的 JSON"]}


def test_a_query_parameter_given_twice_for_one_value_is_refused_by_name(client: Any) -> None:
    response = client.get(f"{API}/leads?limit=5&limit=7")

    assert response.status_code == 422
    assert list(response.get_json()["details"]["fields"]) == ["limit"]


def test_load_outside_flask_smorest_gives_the_same_422_shape(client: Any) -> None:
    response = client.post(f"{API}/imports", data={"name": "张三", "amount": "x", "mobile": "13812341234"})

    body = response.get_json()
    assert response.status_code == 422
    assert_error_shape(body, "validation_error")
    assert body["details"]["fields"]["amount"] == ["必须是整数"]
    assert body["details"]["fields"]["city"] == ["请选择城市"]


def test_load_refuses_a_body_that_is_not_an_object() -> None:
    with pytest.raises(InvalidInput) as raised:
        load(LeadIn(), ["张三"])

    assert raised.value.status == 422
    assert raised.value.details["fields"]["_schema"] == ["请求体必须是 JSON 对象"]


def test_body_larger_than_the_limit_is_a_413_json_error(client: Any) -> None:
    response = client.post(f"{API}/leads", data=b"{" + b" " * (2 * 1024 * 1024) + b"}", content_type="application/json")

    assert response.status_code == 413
    assert_error_shape(response.get_json(), "payload_too_large")


# --- domain and HTTP errors ---------------------------------------------------------------------------------------


def test_domain_error_becomes_its_status_and_json_body(client: Any) -> None:
    response = client.get(f"{API}/missing")

    assert response.status_code == 404
    assert response.get_json() == {"code": "not_found", "message": "资源不存在", "details": {}}


def test_domain_error_keeps_its_refined_code_message_and_details(client: Any) -> None:
    response = client.get(f"{API}/conflict")

    assert response.status_code == 409
    assert response.get_json() == {
        "code": "customer_owned",
        "message": "该客户已有负责人",
        "details": {"customer_id": "c-1"},
    }


def test_rate_limit_answers_429_with_retry_after(client: Any) -> None:
    response = client.get(f"{API}/rate-limited")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.get_json()["details"] == {"retry_after": 7}


def test_invalid_input_for_a_field_names_it_under_details_fields(client: Any) -> None:
    response = client.get(f"{API}/bad-field")

    assert response.status_code == 422
    assert response.get_json()["details"] == {"fields": {"term_months": ["期限必须在 1 到 360 个月之间"]}}


def test_unknown_route_is_a_json_404(client: Any) -> None:
    response = client.get(f"{API}/nothing-here")

    assert response.status_code == 404
    assert response.get_json() == {"code": "not_found", "message": "资源不存在", "details": {}}


def test_wrong_method_is_a_json_405(client: Any) -> None:
    response = client.delete(f"{API}/ping")

    assert response.status_code == 405
    assert_error_shape(response.get_json(), "method_not_allowed")


def test_lost_database_connection_becomes_503_with_retry_after(client: Any) -> None:
    response = client.get(f"{API}/database-down")

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert_error_shape(body, "database_unavailable")
    assert "MySQL" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/bug", "/sql-bug"])
def test_unexpected_exception_is_a_500_that_reveals_nothing(client: Any, path: str) -> None:
    response = client.get(f"{API}{path}")

    assert response.status_code == 500
    assert response.get_json() == {"code": "internal_error", "message": "服务器内部错误", "details": {}}
    text = response.get_data(as_text=True)
    for leak in ("13812341234", "hunter2", "RuntimeError", "ProgrammingError", "Traceback"):
        assert leak not in text


def test_domain_errors_carry_their_http_status() -> None:
    assert [error.status for error in (InvalidInput(), NotFound(), Conflict(), Unavailable())] == [422, 404, 409, 503]
    assert Unavailable().headers() == {"Retry-After": "5"}


# --- request ids --------------------------------------------------------------------------------------------------


def test_request_id_is_echoed_or_generated(client: Any) -> None:
    echoed = client.get(f"{API}/ping", headers={"X-Request-ID": "req-abc"})
    generated = client.get(f"{API}/ping")

    assert echoed.headers["X-Request-ID"] == "req-abc"
    assert len(generated.headers["X-Request-ID"]) == 36
    assert generated.headers["X-Request-ID"] != client.get(f"{API}/ping").headers["X-Request-ID"]


# --- health, readiness, metrics, OpenAPI --------------------------------------------------------------------------


def test_healthz_answers_alive(client: Any) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": "demo"}


def test_readyz_is_ready_when_the_database_answers(client: Any) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_readyz_is_503_when_the_database_cannot_be_opened(tmp_path: Path) -> None:
    unopenable = tmp_path / "a-directory.db"
    unopenable.mkdir()
    spec = ServiceSpec(name="demo", create_app=build_app, migrations=COMMON_MIGRATIONS)
    runtime = Runtime(spec, environ={"LOANBRIDGE_DATABASE_URL": f"sqlite:///{unopenable}"})
    client = build_app(runtime).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "service": "demo", "reason": "database_unavailable"}


def test_readyz_uses_the_readiness_check_it_is_given(runtime: Runtime) -> None:
    def broker_down() -> None:
        raise Unavailable(code="broker_unavailable")

    client = build_app(runtime, readiness=broker_down).test_client()

    assert client.get("/readyz").get_json()["reason"] == "broker_unavailable"
    assert client.get("/readyz").status_code == 503


def http_requests_total(client: Any, **labels: str) -> float:
    families = text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
    return sum(
        sample.value
        for family in families
        if family.name == "loanbridge_http_requests"
        for sample in family.samples
        if sample.name == "loanbridge_http_requests_total" and labels.items() <= sample.labels.items()
    )


def test_metrics_count_requests_by_route_template_method_and_status(client: Any) -> None:
    labels = {"service": "demo", "endpoint": f"{API}/ping", "method": "GET", "status": "200"}
    before = http_requests_total(client, **labels)

    client.get(f"{API}/ping")
    client.get(f"{API}/ping")
    client.get(f"{API}/missing")

    assert http_requests_total(client, **labels) == before + 2
    assert http_requests_total(client, service="demo", endpoint=f"{API}/missing", status="404") >= 1


def test_metrics_are_prometheus_text_and_skip_health_probes(client: Any) -> None:
    before = http_requests_total(client, service="demo", endpoint="/healthz")
    client.get("/healthz")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"loanbridge_http_requests", "loanbridge_http_request_duration_seconds"} <= names
    assert http_requests_total(client, service="demo", endpoint="/healthz") == before == 0


def test_openapi_document_lists_the_routes_and_the_error_shape(client: Any) -> None:
    response = client.get("/api/demo/openapi.json")

    assert response.status_code == 200
    spec = response.get_json()
    assert f"{API}/leads" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert {"code", "message", "details"} <= set(spec["components"]["schemas"]["Error"]["properties"])
