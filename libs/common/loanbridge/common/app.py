"""The Flask app factory every service uses: OpenAPI, JSON errors, request ids, logs, health and metrics.

A service's ``create_app`` calls ``build_app(runtime, blueprints=[...])``. Routes live under
``/api/<service>/v1/`` (public, routed by the gateway) and ``/internal/v1/`` (service clients only, never
routed); ``/healthz``, ``/readyz`` and ``/metrics`` sit at the root, where the gateway does not reach.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import flask_smorest as smorest
import structlog
from flask import Flask, Response, g, jsonify, request
from flask_smorest import Api
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from loanbridge.common import context, metrics
from loanbridge.common.db import close_connect_budget, is_connection_error, open_connect_budget
from loanbridge.common.errors import DomainError, Unavailable
from loanbridge.common.runtime import Runtime
from loanbridge.common.schemas import MAX_INTEGER, ErrorSchema

log = structlog.get_logger(__name__)

MAX_JSON_BODY = 1 * 1024 * 1024
REQUEST_ID_HEADER = "X-Request-ID"
INTERNAL_PREFIX = "/internal/"
# The largest integer a path may carry (MariaDB's INT): a larger one matches no route (404) instead of reaching
# the database, where it cannot be bound (SQLite and MariaDB refuse integers past their column's range).
MAX_PATH_INTEGER = MAX_INTEGER
NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default", "multipleOf")

HTTP_MESSAGES_ZH = {
    400: "请求格式不正确",
    401: "未登录或登录已失效",
    403: "没有权限执行此操作",
    404: "资源不存在",
    405: "不支持该请求方法",
    406: "不支持的响应格式",
    409: "与已有数据冲突",
    412: "前置条件不满足",
    413: "请求体过大",
    415: "不支持的内容类型",
    422: "请求参数有误",
    428: "缺少必要的前置条件",
    429: "请求过于频繁,请稍后再试",
    500: "服务器内部错误",
    503: "服务暂时不可用,请稍后重试",
}


class _StrictQueryParser(FlaskParser):
    """Unknown query parameters are refused like unknown body fields: a misspelt filter must not widen a query."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def load_querystring(self, req: Any, schema: Any) -> Any:
        """A parameter given twice that takes one value (``?overdue=true&overdue=false``) is refused as a wrong
        type: which of the two was meant is not the server's guess."""
        proxy = self._makeproxy(req.args, schema)
        repeated = {key for key in req.args if key not in proxy.multiple_keys and len(req.args.getlist(key)) > 1}
        if not repeated:
            return proxy
        return {**{key: proxy[key] for key in proxy}, **{key: req.args.getlist(key) for key in repeated}}


class Blueprint(smorest.Blueprint):
    """The blueprint every service's API uses (flask-smorest's, with strict query parameters)."""

    ARGUMENTS_PARSER = _StrictQueryParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        # webargs instantiates a schema class on every request; an instance is built once and reused.
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` path segments, up to ``MAX_PATH_INTEGER`` unless a route says otherwise."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_PATH_INTEGER)
        super().__init__(map, *args, **kwargs)


def decimal_bounds_as_numbers(converter: Any, field: Any, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """OpenAPI keywords that a ``fields.Decimal`` leaves as ``Decimal`` (rendered as strings) turned into numbers:
    ``"maximum": "100000000.00"`` is not a valid schema, and clients generated from it break."""
    return {key: float(ret[key]) for key in NUMBER_KEYWORDS if isinstance(ret.get(key), Decimal)}


class ServiceApi(Api):
    """flask-smorest's Api with the suite's error shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> tuple[Response, int, dict[str, str]]:
        original = getattr(error, "original_exception", None)
        if isinstance(error, InternalServerError) and original is not None:
            return _unexpected_error(original)
        status = error.code or 500
        details: dict[str, Any] = {}
        data = getattr(error, "data", None) or {}
        if "messages" in data:
            details["fields"] = _merge_locations(data["messages"])
        body = {
            "code": _code_for_status(status),
            "message": HTTP_MESSAGES_ZH.get(status, error.name),
            "details": details,
        }
        headers = dict(data.get("headers") or {})
        return jsonify(body), status, headers


def _merge_locations(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs groups errors by location (json, query, form); clients want them by field name. An error of a whole
    location (a body that is not JSON at all) is named by the location."""
    merged: dict[str, Any] = {}
    for location, location_errors in messages.items():
        if isinstance(location_errors, dict):
            merged.update(location_errors)
        elif location == "json":
            merged["body"] = ["请求体不是有效的 JSON"]
        else:
            merged[location] = ["格式不正确"]
    return merged


def _code_for_status(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "payload_too_large",
        415: "unsupported_media_type",
        422: "validation_error",
        429: "rate_limited",
        503: "service_unavailable",
    }.get(status, "http_error")


def _domain_error(error: DomainError) -> tuple[Response, int, dict[str, str]]:
    return jsonify(error.body()), error.status, error.headers()


def _unexpected_error(error: BaseException) -> tuple[Response, int, dict[str, str]]:
    if isinstance(error, DomainError):
        return _domain_error(error)
    if is_connection_error(error):
        log.warning("database_unavailable", error=type(error).__name__)
        return _domain_error(Unavailable(code="database_unavailable"))
    log.error("unhandled_error", error=type(error).__name__, exc_info=error)
    body = {"code": "internal_error", "message": HTTP_MESSAGES_ZH[500], "details": {}}
    return jsonify(body), 500, {}


def build_app(
    runtime: Runtime,
    *,
    blueprints: Iterable[Blueprint] = (),
    plain_blueprints: Iterable[Any] = (),
    readiness: Callable[[], None] | None = None,
) -> Flask:
    """A service's Flask app. ``blueprints`` are documented in OpenAPI; ``plain_blueprints`` (pages) are not."""
    service = runtime.name
    # Explicit paths: Flask cannot locate a package inside the ``loanbridge`` namespace on its own.
    app = Flask(
        f"loanbridge.{service}",
        root_path=str(Path(__file__).parent),
        instance_path=str(Path(runtime.settings.var_dir).resolve() / "instance" / service),
    )
    app.config.update(
        API_TITLE=f"LoanBridge {service}",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=f"/api/{service}",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_JSON_BODY,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["loanbridge"] = runtime
    app.url_map.converters["int"] = BoundedIntegerConverter

    api = ServiceApi(app, spec_kwargs={"info": {"description": f"LoanBridge {service} service API"}})
    api.ma_plugin.converter.add_attribute_function(decimal_bounds_as_numbers)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for blueprint in blueprints:
        if (blueprint.url_prefix or "").startswith(INTERNAL_PREFIX):
            app.register_blueprint(blueprint)  # served, but not in the public OpenAPI document
        else:
            api.register_blueprint(blueprint)
    for blueprint in plain_blueprints:
        app.register_blueprint(blueprint)

    app.register_error_handler(DomainError, _domain_error)
    _install_request_hooks(app, service)
    _install_health_routes(app, runtime, readiness or runtime.database.ping)
    return app


def _install_request_hooks(app: Flask, service: str) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        request_id = request.headers.get(REQUEST_ID_HEADER, "")[:64] or str(uuid.uuid4())
        g.request_id = request_id
        g.cause_token = context.enter(context.Cause(correlation_id=request_id))
        # One connect budget for every database connection the request opens (its 503 comes within 2 s).
        g.connect_budget_token = open_connect_budget()
        structlog.contextvars.bind_contextvars(request_id=request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        if endpoint not in ("/metrics", "/healthz", "/readyz"):
            metrics.HTTP_REQUESTS.labels(service, endpoint, request.method, str(response.status_code)).inc()
            metrics.HTTP_LATENCY.labels(service, endpoint, request.method).observe(elapsed)
            log.info(
                "http_request",
                method=request.method,
                endpoint=endpoint,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 2),
            )
        return response

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        token = g.pop("cause_token", None)
        if token is not None:
            context.leave(token)
        budget_token = g.pop("connect_budget_token", None)
        if budget_token is not None:
            close_connect_budget(budget_token)
        structlog.contextvars.unbind_contextvars("request_id")


def _install_health_routes(app: Flask, runtime: Runtime, readiness: Callable[[], None]) -> None:
    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return jsonify({"status": "ok", "service": runtime.name}), 200

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            readiness()
        except Unavailable as exc:
            return jsonify({"status": "unavailable", "service": runtime.name, "reason": exc.code}), 503
        return jsonify({"status": "ready", "service": runtime.name}), 200

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        body, content_type = metrics.render()
        return Response(body, mimetype=content_type.split(";")[0], content_type=content_type)
