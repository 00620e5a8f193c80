"""Domain errors: each carries its HTTP status and a stable `code`; one handler renders them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("promptlooper")


class AppError(Exception):
    """Base of every error the API reports to clients."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}


class BadRequest(AppError):
    """The request is well-formed but cannot be carried out as asked."""


class NotAuthenticated(AppError):
    """No credentials or bad ones."""

    status = 401
    code = "not_authenticated"


class Forbidden(AppError):
    """Authenticated but not allowed."""

    status = 403
    code = "forbidden"


class NotFound(AppError):
    """An unknown id."""

    status = 404
    code = "not_found"


class Conflict(AppError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class TooManyRequests(AppError):
    """Rate limited."""

    status = 429
    code = "too_many_requests"


class ServiceUnavailable(AppError):
    """A dependency is down."""

    status = 503
    code = "service_unavailable"


class InvalidDefinition(AppError):
    """Field-level validation failure rendered like FastAPI's 422 (detail is a list)."""

    status = 422
    code = "validation_error"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("msg", "")) for e in errors) or "Invalid input")
        self.errors = errors


def error_body(detail: Any, code: str) -> dict[str, Any]:
    """The wire shape of every error."""
    return {"detail": detail, "code": code}


def _status_code(status: int) -> str:
    return {
        400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
        405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
        415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests",
    }.get(status, "http_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error as {"detail", "code"}."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, InvalidDefinition):
            return JSONResponse(error_body(exc.errors, exc.code), status_code=422)
        body = error_body(exc.detail, exc.code) | exc.extra
        if exc.status == 429 and "retry_after" in exc.extra:
            headers = {"Retry-After": str(exc.extra["retry_after"])}
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse(error_body(errors, "validation_error"), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        return JSONResponse(error_body(detail, _status_code(exc.status_code)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("Internal server error", "internal_error"), status_code=500)
