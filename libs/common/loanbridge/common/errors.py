"""Domain errors with a stable code, an HTTP status and a zh-CN message for the end user.

A handler raises one of these; the app factory turns it into ``{"code", "message", "details"}``. Messages and
details never carry personal data: name the field, not its value.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule said no. Subclasses fix the status; instances may refine code and message."""

    status = 400
    code = "bad_request"
    message = "请求无法处理"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details or {}
        super().__init__(self.code)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def headers(self) -> dict[str, str]:
        return {}


class InvalidInput(DomainError):
    status = 422
    code = "validation_error"
    message = "请求参数有误"

    @classmethod
    def for_field(cls, field: str, reason: str) -> InvalidInput:
        """One field is wrong; ``reason`` says why in Chinese."""
        return cls(details={"fields": {field: [reason]}})


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    message = "未登录或登录已失效"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="loanbridge"'}


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    message = "没有权限执行此操作"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "资源不存在"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "与已有数据冲突"


class Locked(DomainError):
    status = 423
    code = "locked"
    message = "已被锁定"

    def __init__(self, message: str | None = None, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    message = "请求过于频繁,请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Unavailable(DomainError):
    status = 503
    code = "service_unavailable"
    message = "服务暂时不可用,请稍后重试"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}
