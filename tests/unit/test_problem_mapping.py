"""Domain errors to HTTP status codes and RFC 9457 problem bodies."""

from __future__ import annotations

import json

import pytest

from app.api.problems import problem_body, status_for
from app.domain import errors
from app.logs import current_request_id

# (error, expected status, expected code) for every class in app/domain/errors.py
# that has its own mapping.
MAPPED: list[tuple[errors.PixWaveError, int, str]] = [
    (errors.InvalidRequest("bad", param="amount"), 400, "parameter_invalid"),
    (errors.MalformedRequest("bad json"), 400, "malformed_json"),
    (errors.PayloadTooLarge("too big"), 413, "payload_too_large"),
    (errors.UnsupportedMediaType("xml"), 415, "unsupported_media_type"),
    (errors.AuthenticationFailed("no key"), 401, "authentication_failed"),
    (errors.NotFound("no such intent"), 404, "resource_missing"),
    (errors.RateLimited(7), 429, "rate_limited"),
    (errors.ConflictError("clash"), 409, "conflict"),
    (errors.IllegalTransition("pending to succeeded"), 409, "unexpected_state"),
    (errors.StaleVersion("lost race"), 409, "concurrent_update"),
    (errors.IdempotencyKeyInProgress("wait"), 409, "idempotency_key_in_progress"),
    (errors.IdempotencyKeyReused("other body"), 422, "idempotency_key_reused"),
    (errors.ServiceUnavailable("db down"), 503, "service_unavailable"),
    (errors.CallbackRejected("forged"), 401, "callback_rejected"),
    # A callback whose charge the gateway cannot confirm: the gateway resends later.
    (errors.GatewayError("efi", "odd"), 503, "gateway_error"),
    (errors.GatewayNotAttempted("efi", "refused"), 503, "gateway_not_attempted"),
    (errors.GatewayOutcomeUnknown("efi", "timeout"), 503, "gateway_outcome_unknown"),
    (errors.GatewayRejected("efi", "400"), 503, "gateway_rejected"),
]
# An error class without its own entry is our bug: 500, not the caller's fault.
# RetryLater and PoisonMessage belong to consumers, OperatorError to the command line:
# none of them reaches HTTP.
FALLBACK: list[errors.PixWaveError] = [
    errors.PixWaveError("generic"),
    errors.RetryLater("later"),
    errors.PoisonMessage("bad"),
    errors.OperatorError("run `pixwave db upgrade`"),
]


def _all_error_classes() -> set[type[errors.PixWaveError]]:
    return {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.PixWaveError)
    }


def test_every_error_class_is_covered() -> None:
    covered = {type(exc) for exc, _, _ in MAPPED} | {type(exc) for exc in FALLBACK}
    assert covered == _all_error_classes()


@pytest.mark.parametrize(
    ("exc", "status", "code"), MAPPED, ids=[type(e).__name__ for e, _, _ in MAPPED]
)
def test_status_for(exc: errors.PixWaveError, status: int, code: str) -> None:
    assert status_for(exc) == status
    assert exc.code == code


@pytest.mark.parametrize("exc", FALLBACK, ids=[type(e).__name__ for e in FALLBACK])
def test_status_for_falls_back_to_500(exc: errors.PixWaveError) -> None:
    assert status_for(exc) == 500


def test_custom_code_does_not_change_status() -> None:
    exc = errors.InvalidRequest("bad", param="currency", code="currency_unsupported")
    assert status_for(exc) == 400
    assert exc.code == "currency_unsupported"


@pytest.mark.parametrize(
    ("exc", "status", "code"), MAPPED, ids=[type(e).__name__ for e, _, _ in MAPPED]
)
def test_problem_body_for_error(exc: errors.PixWaveError, status: int, code: str) -> None:
    body = json.loads(problem_body(status_for(exc), exc.code, exc.message, exc.param))
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"/problems/{code}"
    assert body["detail"] == exc.message
    assert body["param"] == exc.param


def test_problem_body_shape() -> None:
    raw = problem_body(400, "amount_too_small", "Amount must be positive.", "amount")
    assert json.loads(raw) == {
        "type": "/problems/amount_too_small",
        "title": "Bad request",
        "status": 400,
        "detail": "Amount must be positive.",
        "code": "amount_too_small",
        "param": "amount",
        "request_id": None,
    }


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (400, "Bad request"),
        (401, "Unauthorized"),
        (404, "Not found"),
        (405, "Method not allowed"),
        (409, "Conflict"),
        (413, "Payload too large"),
        (415, "Unsupported media type"),
        (422, "Unprocessable request"),
        (429, "Too many requests"),
        (500, "Internal error"),
        (503, "Service unavailable"),
        (418, "Error"),
    ],
)
def test_problem_body_title(status: int, title: str) -> None:
    assert json.loads(problem_body(status, "x", "y", None))["title"] == title


def test_problem_body_null_param() -> None:
    raw = problem_body(404, "resource_missing", "No such intent.", None)
    assert json.loads(raw)["param"] is None
    assert b'"param":null' in raw


def test_problem_body_is_compact_utf8() -> None:
    raw = problem_body(400, "invalid_tax_id", "Documento inválido", "document")
    assert "Documento inválido".encode() in raw
    assert b'": ' not in raw
    assert b'", "' not in raw


def test_problem_body_carries_the_current_request_id() -> None:
    token = current_request_id.set("req_123")
    try:
        raw = problem_body(400, "x", "y", None)
    finally:
        current_request_id.reset(token)
    assert json.loads(raw)["request_id"] == "req_123"
    assert json.loads(problem_body(400, "x", "y", None))["request_id"] is None
