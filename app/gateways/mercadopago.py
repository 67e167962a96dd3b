"""Mercado Pago adapter: the Payments API (`/v1/payments`) and its signed notifications."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from app.domain.errors import CallbackRejected, GatewayOutcomeUnknown
from app.domain.intents import PaymentMethodType
from app.gateways.amounts import to_centavos, to_reais
from app.gateways.identifiers import mercadopago_payment_id
from app.gateways.mercadopago_records import MAX_LIMIT, payment_records, payments_by_id, wire_date
from app.gateways.port import (
    CallbackEvent,
    CallbackNotice,
    Charge,
    ChargeAttempt,
    ChargeRequest,
    GatewayName,
    GatewayRecord,
    IncomingCallback,
    RefundRequest,
    RefundResult,
)
from app.gateways.statuses import MERCADOPAGO_STATUSES
from app.gateways.transport import attempt, call, read_json

NAME = GatewayName.MERCADOPAGO
# The notification topic of payments; other topics (merchant_order, …) need no action.
PAYMENT_TOPIC = "payment"
# Mercado Pago requires a payer e-mail; PIX intents carry a name and a document only.
FALLBACK_PAYER_EMAIL = "payer@pixwave.invalid"
# Timestamps above this are milliseconds (some notification versions send those).
_MILLISECONDS_FROM = 10**12
# Answers after which the same request may still go through: 409 idempotency conflict,
# 423 key locked (retryable), 424 failed dependency (retryable), as the official SDKs'
# error tables say (sdk-python mercadopago/errors/exceptions.py). Never a decline.
IN_DOUBT = frozenset({409, 423, 424})


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
        """The payment whose external_reference is this key (ours are the same). Search is
        not read-your-write (sdk-nodejs issue 180): finding nothing proves nothing, so it
        raises GatewayOutcomeUnknown rather than answer None."""
        response = await self._call(
            "GET", "/v1/payments/search", params={"external_reference": idempotency_key}
        )
        results = read_json(NAME, response).get("results") or []
        if not results:
            raise GatewayOutcomeUnknown(NAME, "the search found nothing yet, which proves nothing")
        return _charge(results[0])

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
        return _refund(request.refund_id, read_json(NAME, response))

    async def get_refund(self, reference: str, refund_reference: str) -> RefundResult:
        path = f"/v1/payments/{reference}/refunds/{refund_reference}"
        return _refund(None, read_json(NAME, await self._call("GET", path)))

    async def list_records(
        self, start: datetime, end: datetime, *, limit: int = MAX_LIMIT
    ) -> list[GatewayRecord]:
        """Payments made or changed in the window and their refunds
        (app/gateways/mercadopago_records.py)."""
        return await payment_records(self._call, start, end, limit=limit)

    async def charge_records(self, references: Sequence[str]) -> list[GatewayRecord]:
        """These payments and their refunds, read by id (app/gateways/mercadopago_records.py)."""
        return await payments_by_id(self._call, references)

    def verify_callback(self, callback: IncomingCallback, now: datetime) -> CallbackNotice:
        """Check ``x-signature`` (HMAC over id, request id and ts) and the timestamp's age."""
        request_id = callback.headers.get("x-request-id") or None
        ts, signatures = _signature_parts(callback.headers.get("x-signature", ""))
        manifest = _manifest(callback.query.get("data.id") or None, request_id, ts)
        expected = hmac.new(self._secret, manifest.encode(), hashlib.sha256).hexdigest()
        if not any(hmac.compare_digest(expected, given) for given in signatures):
            raise CallbackRejected("The x-signature does not match.")
        sent = int(ts) / (1000 if int(ts) >= _MILLISECONDS_FROM else 1)
        if abs(now.timestamp() - sent) > self._tolerance:
            raise CallbackRejected("The x-signature timestamp is too old or in the future.")
        body = _json_object(callback.body)
        if _topic(callback.query, body) != PAYMENT_TOPIC:
            return CallbackNotice(NAME, ())
        payment_id = _payment_id(callback.query, body)
        return CallbackNotice(NAME, (CallbackEvent(f"{request_id}:{payment_id}", payment_id),))

    async def _call(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self._auth, **({"X-Idempotency-Key": key} if key else {})}
        return await call(
            self._http, NAME, method, path, headers=headers, in_doubt=IN_DOUBT, **kwargs
        )

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
        body["notification_url"] = webhooks_only(request.notification_url)
    if request.method is PaymentMethodType.PIX:
        expires = request.pix_expires_at or datetime.now(UTC) + timedelta(
            seconds=request.pix_expires_in_seconds
        )
        body |= {"payment_method_id": "pix", "date_of_expiration": wire_date(expires)}
    else:
        body |= _card(request)
    return body


def webhooks_only(url: str) -> str:
    """The notification URL with ``source_news=webhooks``: without it Mercado Pago also
    sends IPN notifications, whose x-signature the secret cannot validate (devsite-docs
    guides/additional-content/your-integrations/ipn.en.md), so each would be refused and
    resent every 15 minutes."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "source_news"
    ]
    return urlunsplit(parts._replace(query=urlencode([*query, ("source_news", "webhooks")])))


def _card(request: ChargeRequest) -> dict[str, Any]:
    """Token, and beside it the brand and issuer every official example sends; without a
    brand Mercado Pago must infer it from the token and may refuse (400, cause 2131)."""
    card: dict[str, Any] = {"token": request.card_token, "installments": 1}
    if request.payment_method_id:
        card["payment_method_id"] = request.payment_method_id
    if request.issuer_id:
        card["issuer_id"] = request.issuer_id
    return card | {"capture": request.capture}


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


def _refund(refund_id: str | None, body: dict[str, Any]) -> RefundResult:
    """A refund object; its status is approved, in_process, rejected… (sdk-nodejs
    src/clients/paymentRefund/commonTypes.ts): only "rejected" is a refusal."""
    try:
        reference, status = str(body["id"]), body.get("status")
        return RefundResult(
            refund_id=refund_id or reference,
            gateway_reference=reference,
            amount=to_centavos(body["amount"]),
            settled=status == "approved",
            rejected=status == "rejected",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable refund: {exc!r}") from exc


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


def _manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    """``id:{data.id};request-id:{x-request-id};ts:{ts};`` with data.id from the query (in
    lower case: alphanumeric ids are signed so) and any part whose value is absent left out
    (devsite-docs guides/additional-content/your-integrations/webhooks.en.md;
    sdk-python mercadopago/webhook/validator.py)."""
    parts = [
        f"id:{data_id.lower()}" if data_id else "",
        f"request-id:{request_id}" if request_id else "",
    ]
    return "".join(f"{part};" for part in parts if part) + f"ts:{ts};"


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _topic(query: dict[str, str], body: dict[str, Any]) -> str:
    """Webhooks say ``type`` (query and body); IPN says ``topic``. One that says neither
    is read as a payment's: re-fetching it is the safe side."""
    return query.get("type") or query.get("topic") or _text(body.get("type")) or PAYMENT_TOPIC


def _payment_id(query: dict[str, str], body: dict[str, Any]) -> str:
    """``data.id`` in the query or the body (an IPN's ``id`` is never trusted: its
    signature cannot be checked, so it does not get this far)."""
    data = body.get("data")
    from_body = _text(data.get("id")) if isinstance(data, dict) else None
    payment_id = query.get("data.id") or from_body
    if not payment_id:
        raise CallbackRejected("The notification names no payment (data.id).")
    return payment_id


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
