"""Mercado Pago's wire forms: error bodies, timestamps, payment and refund objects."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from app.gateways.amounts import to_reais
from gatewaysim.errors import SimulatorError, field_name

if TYPE_CHECKING:
    from gatewaysim.mercadopago.payments import Payment, Refund

# Mercado Pago writes its timestamps in Brasília time, e.g. 2026-01-05T10:00:00.000-03:00.
BRASILIA = timezone(timedelta(hours=-3))
_SERVER_ERRORS = {
    HTTPStatus.INTERNAL_SERVER_ERROR: ("internal_error", "internal_server_error"),
    HTTPStatus.SERVICE_UNAVAILABLE: ("service_unavailable", "service_unavailable"),
}
_RETRY_LATER = {
    HTTPStatus.CONFLICT: "idempotency conflict",
    HTTPStatus.LOCKED: "resource locked",
    HTTPStatus.FAILED_DEPENDENCY: "failed dependency",
}


def error(
    status: HTTPStatus, message: str, kind: str, cause: Sequence[dict[str, Any]] = ()
) -> SimulatorError:
    body = {"message": message, "error": kind, "status": int(status), "cause": list(cause)}
    return SimulatorError(status, body)


def bad_request(code: str, description: str) -> SimulatorError:
    cause = [{"code": code, "description": description}]
    return error(HTTPStatus.BAD_REQUEST, description, "bad_request", cause)


def cannot_infer_payment_method() -> SimulatorError:
    """The 400 of a card payment whose method could not be told from its token, as quoted
    in sdk-nodejs issue 179."""
    cause = [{"code": 2131, "description": "payment methods inference error", "data": None}]
    return error(HTTPStatus.BAD_REQUEST, "Cannot infer Payment Method", "bad_request", cause)


def retry_later(status: HTTPStatus) -> SimulatorError:
    """409, 423 or 424: the answers the official SDKs call retryable or conflicts
    (sdk-python mercadopago/errors/exceptions.py, sdk-nodejs src/utils/errors/index.ts)."""
    return error(status, _RETRY_LATER[status], _RETRY_LATER[status].replace(" ", "_"))


def unauthorized() -> SimulatorError:
    return error(HTTPStatus.UNAUTHORIZED, "unauthorized", "unauthorized")


def not_found() -> SimulatorError:
    return error(HTTPStatus.NOT_FOUND, "Payment not found", "not_found")


def refund_not_found() -> SimulatorError:
    return error(HTTPStatus.NOT_FOUND, "Refund not found", "not_found")


def server_error(status: HTTPStatus) -> SimulatorError:
    message, kind = _SERVER_ERRORS[status]
    return error(status, message, kind)


def invalid_request(errors: Sequence[Any]) -> SimulatorError:
    """FastAPI's validation errors as Mercado Pago's 400 with one cause per field."""
    cause = [{"code": f"invalid_{field_name(e['loc'])}", "description": e["msg"]} for e in errors]
    message = "; ".join(f"{c['code']}: {c['description']}" for c in cause)
    return error(HTTPStatus.BAD_REQUEST, message, "bad_request", cause)


def reais(centavos: int) -> float:
    """The JSON number Mercado Pago writes: the double nearest the exact decimal prints as
    that decimal (1990 → 19.9), so nothing is lost on the wire."""
    return float(to_reais(centavos))


def timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(BRASILIA).isoformat("T", "milliseconds")


def payment_json(payment: Payment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": payment.id,
        "status": payment.status,
        "status_detail": payment.status_detail,
        "transaction_amount": reais(payment.amount_cents),
        "transaction_amount_refunded": reais(payment.refunded_cents),
        "currency_id": "BRL",
        "payment_method_id": payment.method_id,
        "payment_type_id": "bank_transfer" if payment.is_pix else "credit_card",
        "installments": payment.installments,
        "issuer_id": payment.issuer_id,
        "external_reference": payment.external_reference,
        "description": payment.description,
        "captured": payment.captured,
        "date_created": timestamp(payment.created_at),
        "date_approved": timestamp(payment.approved_at),
        "date_last_updated": timestamp(payment.updated_at),
        "date_of_expiration": timestamp(payment.expires_at),
        "notification_url": payment.notification_url,
        "payer": payment.payer,
        "refunds": [refund_json(r) for r in payment.refunds],
    }
    if payment.qr_code is not None:
        body["point_of_interaction"] = _point_of_interaction(payment.id, payment.qr_code)
    return body


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": reais(refund.amount_cents),
        "status": refund.status,
        "date_created": timestamp(refund.created_at),
    }


def _point_of_interaction(payment_id: int, qr_code: str) -> dict[str, Any]:
    return {
        "type": "PIX",
        "transaction_data": {
            "qr_code": qr_code,
            "qr_code_base64": base64.b64encode(qr_code.encode("ascii")).decode("ascii"),
            "ticket_url": f"https://www.mercadopago.com.br/payments/{payment_id}/ticket",
        },
    }
