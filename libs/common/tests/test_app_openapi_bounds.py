"""What every service's OpenAPI document and router get from the app factory: numeric bounds of decimal fields
written as numbers, and integer path segments bounded so a huge one is a 404, never a database error."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from marshmallow import fields, validate

from loanbridge.common.app import MAX_PATH_INTEGER, Blueprint, build_app
from loanbridge.common.runtime import Runtime
from loanbridge.common.schemas import BaseSchema


class PaymentSchema(BaseSchema):
    amount = fields.Decimal(required=True, places=2, validate=validate.Range(min=Decimal("0.01"), max=Decimal("1e8")))
    rate = fields.Decimal(load_default=Decimal("0"), validate=validate.Range(min=Decimal("0"), max=Decimal("0.999")))


def payments_blueprint() -> Blueprint:
    blp = Blueprint("payments", __name__, url_prefix="/api/demo/v1")

    @blp.post("/payments/<int:version>")
    @blp.arguments(PaymentSchema)
    @blp.response(200)
    def pay(data: dict[str, Any], version: int) -> dict[str, Any]:
        return {"version": version}

    return blp


def test_decimal_bounds_and_defaults_are_numbers_in_the_openapi_document(make_runtime: Callable[..., Runtime]) -> None:
    client = build_app(make_runtime("demo"), blueprints=[payments_blueprint()]).test_client()

    schema = client.get("/api/demo/openapi.json").get_json()["components"]["schemas"]["Payment"]["properties"]

    assert (schema["amount"]["minimum"], schema["amount"]["maximum"]) == (0.01, 100000000.0)
    assert (schema["rate"]["minimum"], schema["rate"]["maximum"], schema["rate"]["default"]) == (0, 0.999, 0)
    assert all(isinstance(schema[name][key], float) for name in schema for key in ("minimum", "maximum"))


def test_an_integer_path_segment_past_the_bound_matches_no_route(make_runtime: Callable[..., Runtime]) -> None:
    client = build_app(make_runtime("demo"), blueprints=[payments_blueprint()]).test_client()
    body = {"amount": 10}

    assert client.post(f"/api/demo/v1/payments/{MAX_PATH_INTEGER}", json=body).get_json() == {
        "version": MAX_PATH_INTEGER
    }
    assert client.post(f"/api/demo/v1/payments/{MAX_PATH_INTEGER + 1}", json=body).status_code == 404
    assert client.post(f"/api/demo/v1/payments/{2**70}", json=body).status_code == 404
    parameter = client.get("/api/demo/openapi.json").get_json()["paths"]["/api/demo/v1/payments/{version}"]
    assert parameter["parameters"][0]["schema"] == {"type": "integer", "minimum": 0, "maximum": MAX_PATH_INTEGER}
