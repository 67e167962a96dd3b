"""Mercado Pago adapter: the Payments API (`/v1/payments`) and its signed notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.domain.errors import CallbackRejected, GatewayOutcomeUnknown
from app.domain.intents import PaymentMethodType
from app.gateways.amounts import to_centavos, to_reais
from app.gateways.identifiers import mercadopago_payment_id
from app.gateways.port import (
    CallbackEvent,
    CallbackNotice,
    Charge,
    ChargeAttempt,
    ChargeRequest,
    GatewayName,
    IncomingCallback,
    RefundRequest,
    RefundResult,
)
from app.gateways.statuses import MERCADOPAGO_STATUSES
from app.gateways.transport import attempt, call, read_json

NAME = GatewayName.MERCADOPAGO
# Mercado Pago requires a payer e-mail; PIX intents carry a name and a document only.
FALLBACK_PAYER_EMAIL = "payer@pixwave.invalid"
# Timestamps above this are milliseconds (some notification versions send those).
_MILLISECONDS_FROM = 10**12


class MercadoPago:
    name = NAME

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        access_token: str,
        webhook_secret: str,
        tolerance_seconds: int,
    ) -> None:
        self._http = http
        self._auth = {"Authorization": f"Bearer {access_token}"}
        self._secret = webhook_secret.encode()
        self._tolerance = tolerance_seconds

    def supports(self, method: PaymentMethodType) -> bool:
        return True

    async def create_charge(self, request: ChargeRequest) -> ChargeAttempt:
        async def create() -> ChargeAttempt:
            response = await self._call(
                "POST",
                "/v1/payments",
                json=_payment_body(request),
                key=request.idempotency_key,
            )
            charge = _charge(read_json(NAME, response))
            return ChargeAttempt(charge.outcome, charge, charge.status_detail)

        return await attempt(create)

    async def get_charge(self, reference: str) -> Charge | None:
        response = await self._call("GET", f"/v1/payments/{mercadopago_payment_id(reference)}")
        if response.status_code == 404:
            return None
        return self._read(response)

    async def find_charge(self, idempotency_key: str) -> Charge | None:
        # Our idempotency key is also the payment's external_reference.
        response = await self._call(
            "GET", "/v1/payments/search", params={"external_reference": idempotency_key}
        )
        results = read_json(NAME, response).get("results") or []
        return _charge(results[0]) if results else None

    async def cancel(self, reference: str) -> Charge:
        response = await self._call(
            "PUT", f"/v1/payments/{mercadopago_payment_id(reference)}", json={"status": "cancelled"}
        )
        return self._read(response)

    async def capture(self, reference: str, amount: int | None = None) -> Charge:
        body: dict[str, Any] = {"capture": True}
        if amount is not None:
            body["transaction_amount"] = wire_amount(amount)
        return self._read(
            await self._call("PUT", f"/v1/payments/{mercadopago_payment_id(reference)}", json=body)
        )

    async def refund(self, request: RefundRequest) -> RefundResult:
        response = await self._call(
            "POST",
            f"/v1/payments/{mercadopago_payment_id(request.charge.reference)}/refunds",
            json={"amount": wire_amount(request.amount)},
            key=request.refund_id,
        )
        body = read_json(NAME, response)
        return RefundResult(
            refund_id=request.refund_id,
            gateway_reference=str(body["id"]),
            amount=to_centavos(body["amount"]),
            settled=body.get("status") == "approved",
        )

    def verify_callback(self, callback: IncomingCallback, now: datetime) -> CallbackNotice:
        """Check ``x-signature`` (HMAC over id, request id and ts) and the timestamp's age."""
        data_id = callback.query.get("data.id") or _body_data_id(callback.body)
        request_id = callback.headers.get("x-request-id", "")
        ts, signatures = _signature_parts(callback.headers.get("x-signature", ""))
        manifest = f"id:{data_id.lower()};request-id:{request_id};ts:{ts};"
        expected = hmac.new(self._secret, manifest.encode(), hashlib.sha256).hexdigest()
        if not any(hmac.compare_digest(expected, given) for given in signatures):
            raise CallbackRejected("The x-signature does not match.")
        sent = int(ts) / (1000 if int(ts) >= _MILLISECONDS_FROM else 1)
        if abs(now.timestamp() - sent) > self._tolerance:
            raise CallbackRejected("The x-signature timestamp is too old or in the future.")
        if callback.query.get("type", "payment") != "payment":
            return CallbackNotice(NAME, ())
        return CallbackNotice(NAME, (CallbackEvent(f"{request_id}:{data_id}", data_id),))

    async def _call(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self._auth, **({"X-Idempotency-Key": key} if key else {})}
        return await call(self._http, NAME, method, path, headers=headers, **kwargs)

    def _read(self, response: httpx.Response) -> Charge:
        return _charge(read_json(NAME, response))


def wire_amount(centavos: int) -> float:
    # The API takes a JSON number. centavos/100 is the double nearest the exact decimal,
    # which prints as that decimal ("19.9"), so no money is lost on the wire.
    return float(to_reais(centavos))


def _payment_body(request: ChargeRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_amount": wire_amount(request.amount),
        "description": request.description or f"PixWave {request.intent_id}",
        "external_reference": request.idempotency_key,
        "payer": _payer(request),
        "metadata": {"payment_intent": request.intent_id},
    }
    if request.notification_url:
        body["notification_url"] = request.notification_url
    if request.method is PaymentMethodType.PIX:
        expires = datetime.now(UTC) + timedelta(seconds=request.pix_expires_in_seconds)
        body |= {"payment_method_id": "pix", "date_of_expiration": expires.isoformat()}
    else:
        body |= {"token": request.card_token, "installments": 1, "capture": request.capture}
    return body


def _payer(request: ChargeRequest) -> dict[str, Any]:
    payer = request.payer
    if payer is None:
        return {"email": FALLBACK_PAYER_EMAIL}
    first, _, last = payer.name.partition(" ")
    body: dict[str, Any] = {"email": payer.email or FALLBACK_PAYER_EMAIL, "first_name": first}
    if last:
        body["last_name"] = last
    if payer.document_type and payer.document_number:
        body["identification"] = {
            "type": payer.document_type.upper(),
            "number": payer.document_number,
        }
    return body


def _charge(payment: dict[str, Any]) -> Charge:
    """A payment object as a Charge; a payment we cannot read is an unknown outcome."""
    try:
        status, detail = str(payment["status"]), payment.get("status_detail")
        pix = (payment.get("point_of_interaction") or {}).get("transaction_data") or {}
        return Charge(
            gateway=NAME,
            reference=str(payment["id"]),
            status=MERCADOPAGO_STATUSES.status_of(status, detail),
            gateway_status=status,
            status_detail=detail,
            amount=to_centavos(payment["transaction_amount"]),
            amount_refunded=to_centavos(payment.get("transaction_amount_refunded") or 0),
            pix_copy_paste=pix.get("qr_code"),
            expires_at=_timestamp(payment.get("date_of_expiration")),
            paid_at=_timestamp(payment.get("date_approved")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable payment: {exc!r}") from exc


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _signature_parts(header: str) -> tuple[str, list[str]]:
    """``ts=1704908010,v1=abc…`` → ("1704908010", ["abc…"]); refuses anything else."""
    ts, signatures = "", []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "ts":
            ts = value
        elif name == "v1":
            signatures.append(value)
    if not ts.isdigit() or not signatures:
        raise CallbackRejected("The x-signature header is missing or malformed.")
    return ts, signatures


def _body_data_id(body: bytes) -> str:
    try:
        return str(json.loads(body)["data"]["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CallbackRejected("The notification names no payment (data.id).") from exc
