"""What a new payment request becomes: a pending PIX charge with its BR Code, or a card
payment answered according to its test token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gatewaysim.mercadopago.payments import Payment, Status
from gatewaysim.mercadopago.schemas import PIX, PaymentIn
from gatewaysim.pix import dynamic_code

# Test card tokens, in the form Mercado Pago issues them (32 lowercase hex characters, see
# schemas.CARD_TOKEN); these pick an answer, any other token is approved.
GATEWAY_ERROR_TOKEN = "e0000000000000000000000000000119"  # noqa: S105 - a test card token
USED_TOKEN = "e0000000000000000000000000003003"  # noqa: S105 - a test card token
DECLINED_TOKEN = "d0000000000000000000000000000002"  # noqa: S105 - a test card token
INSUFFICIENT_FUNDS_TOKEN = "d0000000000000000000000000009995"  # noqa: S105 - a test card token
TOKEN_ANSWERS = {
    DECLINED_TOKEN: (Status.REJECTED, "cc_rejected_other_reason"),
    INSUFFICIENT_FUNDS_TOKEN: (Status.REJECTED, "cc_rejected_insufficient_amount"),
}
HIGH_RISK = (Status.REJECTED, "cc_rejected_high_risk")
DEFAULT_CARD_BRAND = "visa"
PIX_DEFAULT_LIFETIME = timedelta(hours=24)
PIX_TXID_PREFIX = "MP"
PIX_TXID_CHARS = 25


@dataclass(frozen=True)
class _Terms:
    """What differs between a PIX and a card payment when it is created."""

    method_id: str
    status: Status
    status_detail: str
    expires_at: datetime | None = None
    qr_code: str | None = None


def pix_txid(payment_id: int) -> str:
    """The 25-character alphanumeric PIX txid of a payment, e.g. MP00000001795310279000001."""
    digits = PIX_TXID_CHARS - len(PIX_TXID_PREFIX)
    return f"{PIX_TXID_PREFIX}{payment_id:0{digits}d}"


def new_payment(
    payment_id: int,
    idempotency_key: str,
    request: PaymentIn,
    *,
    now: datetime,
    host: str,
    high_risk: bool,
) -> Payment:
    """``host`` is where a BR Code's location points; ``high_risk`` declines a card."""
    terms = _pix(payment_id, request, now, host) if request.is_pix else _card(request, high_risk)
    approved = terms.status is Status.APPROVED
    return Payment(
        id=payment_id,
        idempotency_key=idempotency_key,
        amount_cents=request.transaction_amount,
        method_id=terms.method_id,
        is_pix=request.is_pix,
        installments=request.installments,
        description=request.description,
        external_reference=request.external_reference,
        payer=_payer(request),
        notification_url=request.notification_url,
        created_at=now,
        updated_at=now,
        expires_at=terms.expires_at,
        status=terms.status,
        status_detail=terms.status_detail,
        captured=approved,
        approved_at=now if approved else None,
        qr_code=terms.qr_code,
    )


def _pix(payment_id: int, request: PaymentIn, now: datetime, host: str) -> _Terms:
    location = f"{host}/mercadopago/qr/v2/{pix_txid(payment_id)}"
    return _Terms(
        method_id=PIX,
        status=Status.PENDING,
        status_detail="pending_waiting_transfer",
        expires_at=request.date_of_expiration or now + PIX_DEFAULT_LIFETIME,
        qr_code=dynamic_code(location, request.transaction_amount),
    )


def _card(request: PaymentIn, high_risk: bool) -> _Terms:
    assert request.token is not None  # PaymentIn requires one for cards
    status, detail = _card_answer(request.token, capture=request.capture, high_risk=high_risk)
    return _Terms(request.payment_method_id or DEFAULT_CARD_BRAND, status, detail)


def _card_answer(token: str, *, capture: bool, high_risk: bool) -> tuple[Status, str]:
    if token in TOKEN_ANSWERS:
        return TOKEN_ANSWERS[token]
    if high_risk:
        return HIGH_RISK
    return (Status.APPROVED, "accredited") if capture else (Status.AUTHORIZED, "pending_capture")


def _payer(request: PaymentIn) -> dict[str, Any]:
    document = request.payer.identification
    return {
        "email": request.payer.email,
        "identification": {
            "type": document.type if document else None,
            "number": document.number if document else None,
        },
    }
