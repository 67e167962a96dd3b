"""RFC 9457 problem+json: the only place domain errors become HTTP status codes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from loguru import logger
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path

from app.domain import errors
from app.encoding import render_json
from app.logs import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"

# Most specific class first.
_STATUS_BY_ERROR: tuple[tuple[type[errors.PixWaveError], int], ...] = (
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
    (errors.MalformedRequest, 400),
    (errors.InvalidRequest, 400),
    (errors.AuthenticationFailed, 401),
    (errors.CallbackRejected, 401),
    (errors.NotFound, 404),
    (errors.IdempotencyKeyReused, 422),
    (errors.ConflictError, 409),
    (errors.RateLimited, 429),
    (errors.ServiceUnavailable, 503),
    # The gateway could not confirm a callback's charge; it resends on any non-2xx.
    (errors.GatewayError, 503),
)
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
_VALIDATION_CODES = {
    "json_invalid": "malformed_json",
    "missing": "parameter_missing",
    "extra_forbidden": "parameter_unknown",
}


def json_response(body: Any, status_code: int = 200) -> Response:
    return Response(render_json(body), status_code=status_code, media_type=JSON_MEDIA_TYPE)


def status_for(exc: errors.PixWaveError) -> int:
    for error_class, status in _STATUS_BY_ERROR:
        if isinstance(exc, error_class):
            return status
    return 500  # an error class nobody mapped is our bug, not the caller's


def problem_body(status: int, code: str, detail: str, param: str | None) -> bytes:
    return render_json(
        {
            "type": f"/problems/{code}",
            "title": _TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "code": code,
            "param": param,
            "request_id": current_request_id.get(),
        }
    )


def problem_response(exc: errors.PixWaveError) -> Response:
    status = status_for(exc)
    headers = {}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return Response(
        problem_body(status, exc.code, _public_detail(exc), exc.param),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def internal_error_response() -> Response:
    return Response(
        problem_body(500, "internal_error", "Something went wrong on our side.", None),
        status_code=500,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _public_detail(exc: errors.PixWaveError) -> str:
    """What went wrong, for the caller. A gateway's own answer stays in our logs: it
    may carry the gateway's internals, and it is none of the caller's business."""
    if not isinstance(exc, errors.GatewayError):
        return exc.message
    logger.warning(
        "http.gateway_error",
        gateway=exc.gateway,
        code=exc.code,
        status=exc.status,
        error=exc.message,
    )
    return f"The {exc.gateway} gateway gave no usable answer; retry later."


def _validation_problem(exc: RequestValidationError) -> errors.PixWaveError:
    first: dict[str, Any] = exc.errors()[0]
    error_type = str(first.get("type", ""))
    code = _VALIDATION_CODES.get(error_type, "parameter_invalid")
    if code == "malformed_json":
        return errors.MalformedRequest("The body is not valid JSON.")
    location = [str(part) for part in first.get("loc", ())[1:]]
    param = ".".join(location) or None
    return errors.InvalidRequest(
        f"{param or 'body'}: {first.get('msg', 'invalid')}", param=param, code=code
    )


def _allowed_methods(request: Request, exc: StarletteHTTPException) -> str:
    """Every method the path takes. Starlette names only those of the route whose path
    matched first, and a path's methods are often spread over several routes."""
    methods = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.scope["path"]):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    async def on_pixwave_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.PixWaveError)
        return problem_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(_validation_problem(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = "resource_missing" if exc.status_code == 404 else f"http_{exc.status_code}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request, exc)
        return Response(
            problem_body(exc.status_code, code, str(exc.detail), None),
            status_code=exc.status_code,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=headers,
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DBAPIError)
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            logger.warning("http.database_unavailable", error=repr(exc.orig))
            return problem_response(
                errors.ServiceUnavailable("The database is unavailable; retry shortly.")
            )
        return await on_unexpected_error(request, exc)

    async def on_unexpected_error(_: Request, exc: Exception) -> Response:
        logger.opt(exception=exc).error("http.unhandled_error")
        return internal_error_response()

    app.add_exception_handler(errors.PixWaveError, on_pixwave_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    # Any other exception is answered by RequestContextMiddleware, inside the request's id.
