"""Payment intents' shapes: the commands merchants send (shape only: business rules such
as limits, currencies and documents are checked by the services with precise codes) and
the answers published in /openapi.json."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Self, cast

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator
from typing_extensions import TypedDict

from app.db.models import PaymentAttempt, PaymentIntent
from app.domain.charges import AttemptOutcome, ChargeStatus, LatePayment
from app.domain.documents import DocumentType
from app.domain.intents import CancellationReason, CaptureMethod, IntentStatus, PaymentMethodType
from app.domain.shapes import Strict, Text
from app.encoding import epoch
from app.risk.schemas import RiskOut

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 1000
MAX_TOKEN_CHARS = 200


class PixPayer(Strict):
    name: Text = Field(min_length=1, max_length=MAX_NAME_CHARS)
    document: Text = Field(min_length=1, max_length=32, description="CPF or CNPJ")


class PixDetails(Strict):
    payer: PixPayer


class CardDetails(Strict):
    token: Text = Field(
        min_length=1, max_length=MAX_TOKEN_CHARS, description="A gateway card token, never a PAN"
    )
    # What the card form found with the token; Mercado Pago wants both beside it
    # (docs/gateways/mercadopago.md, "Card payments").
    payment_method_id: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description='The card brand as the gateway names it, e.g. "visa", "master", "elo"',
    )
    issuer_id: str | None = Field(
        default=None, pattern=r"^[0-9]{1,20}$", description='The card issuer\'s id, e.g. "310"'
    )
    last4: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}$",
        description="The card's last four digits as the card form shows them (Mercado Pago's "
        "token answer `last_four_digits`): with the brand and issuer, the risk rules' card "
        "fingerprint (docs/risk.md). Not stored.",
    )


class PaymentMethodInput(Strict):
    type: PaymentMethodType
    pix: PixDetails | None = None
    card: CardDetails | None = None

    @model_validator(mode="after")
    def _details_match_type(self) -> Self:
        if (self.type is PaymentMethodType.PIX) != (self.pix is not None) or (
            self.type is PaymentMethodType.CARD
        ) != (self.card is not None):
            raise ValueError(f"give exactly the `{self.type.value}` details for this type")
        return self


class CreatePaymentIntent(Strict):
    # Published in /openapi.json: a reader's starting point, and the schema test's way to
    # real intents whose follow-up operations it can then exercise.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": 1990,
                    "currency": "BRL",
                    "payment_method": {
                        "type": "pix",
                        "pix": {"payer": {"name": "Maria Silva", "document": "529.982.247-25"}},
                    },
                    "description": "Pedido 42",
                    "expires_in": 3600,
                },
                {
                    "amount": 5000,
                    "currency": "BRL",
                    "capture_method": "manual",
                    "payment_method": {
                        "type": "card",
                        "card": {"token": "ff8080814c11e237014c1ff593b57b4d"},
                    },
                },
            ]
        },
    )

    amount: StrictInt = Field(description="Minor units (centavos for BRL)")
    currency: Text = Field(min_length=3, max_length=3)
    payment_method: PaymentMethodInput
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    description: Text | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)
    metadata: dict[Text, Text] = Field(default_factory=dict)
    expires_in: StrictInt | None = Field(default=None, description="Seconds; PIX only")
    payer_email: str | None = Field(
        default=None,
        max_length=254,
        pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$",
        description="Only its domain is used, by the risk rules' lists; not stored",
    )


class CancelPaymentIntent(Strict):
    cancellation_reason: CancellationReason | None = None


class CapturePaymentIntent(Strict):
    amount_to_capture: StrictInt | None = None


# The answers: each shape is written once, as a TypedDict that both types the view
# building it (mypy checks every key) and is published in /openapi.json.


class PayerOut(TypedDict):
    name: str | None
    document: str | None
    document_type: DocumentType | None


class PixOut(TypedDict):
    payer: PayerOut


class CardOut(TypedDict):
    token_last4: str
    payment_method_id: NotRequired[str]
    issuer_id: NotRequired[str]


class PaymentMethodOut(TypedDict):
    type: PaymentMethodType
    pix: NotRequired[PixOut]
    card: NotRequired[CardOut]


class PaymentIntentOut(TypedDict):
    id: str
    object: Literal["payment_intent"]
    amount: int
    currency: str
    status: IntentStatus
    capture_method: CaptureMethod
    payment_method: PaymentMethodOut
    description: str | None
    metadata: dict[str, str]
    amount_capturable: int
    amount_received: int
    amount_refunded: int
    next_action: dict[str, Any] | None
    last_payment_error: dict[str, Any] | None
    cancellation_reason: str | None
    risk: Annotated[
        RiskOut | None,
        Field(description="The risk rules' assessment at creation (docs/risk.md)"),
    ]
    expires_at: int | None
    created: int
    livemode: bool


class PaymentIntentList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[PaymentIntentOut]


class AttemptOut(TypedDict):
    id: str
    object: Literal["payment_attempt"]
    payment_intent: str
    gateway: str
    number: int
    outcome: AttemptOutcome
    charge_status: ChargeStatus | None
    gateway_status: str | None
    gateway_reference: str | None
    error: str | None
    routing: dict[str, Any] | None
    late_payment: Annotated[
        LatePayment | None,
        Field(
            description="A payment that reached this try's charge after the intent could no "
            "longer take it (it had ended, or a later try replaced the charge); PixWave "
            "refunds it automatically."
        ),
    ]
    late_refund_reference: Annotated[
        str | None, Field(description="The gateway's id of that refund.")
    ]
    created: int


class AttemptList(BaseModel):
    object: Literal["list"]
    url: str
    data: list[AttemptOut]


CARD_TOKEN_VISIBLE_CHARS = 4


def _payment_method_view(intent: PaymentIntent) -> PaymentMethodOut:
    if intent.method_type == PaymentMethodType.PIX:
        payer: PayerOut = {
            "name": intent.payer_name,
            "document": intent.payer_document_masked,
            "document_type": intent.payer_document_type,
        }
        return {"type": PaymentMethodType.PIX, "pix": {"payer": payer}}
    token = intent.card_token or ""
    card: CardOut = {"token_last4": token[-CARD_TOKEN_VISIBLE_CHARS:]}
    if intent.card_payment_method_id is not None:
        card["payment_method_id"] = intent.card_payment_method_id
    if intent.card_issuer_id is not None:
        card["issuer_id"] = intent.card_issuer_id
    return {"type": PaymentMethodType.CARD, "card": card}


def intent_view(intent: PaymentIntent) -> PaymentIntentOut:
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "currency": intent.currency,
        "status": intent.status,
        "capture_method": intent.capture_method,
        "payment_method": _payment_method_view(intent),
        "description": intent.description,
        "metadata": intent.metadata_,
        "amount_capturable": intent.amount_capturable,
        "amount_received": intent.amount_received,
        "amount_refunded": intent.amount_refunded,
        "next_action": intent.next_action,
        "last_payment_error": intent.last_payment_error,
        "cancellation_reason": intent.cancellation_reason,
        "risk": cast(RiskOut | None, intent.risk),
        "expires_at": epoch(intent.expires_at),
        "created": epoch(intent.created_at),
        "livemode": intent.livemode,
    }


def attempt_view(attempt: PaymentAttempt) -> AttemptOut:
    return {
        "id": attempt.id,
        "object": "payment_attempt",
        "payment_intent": attempt.payment_intent_id,
        "gateway": attempt.gateway,
        "number": attempt.number,
        "outcome": attempt.outcome,
        "charge_status": attempt.charge_status,
        "gateway_status": attempt.gateway_status,
        "gateway_reference": attempt.gateway_reference,
        "error": attempt.error,
        "routing": attempt.routing,
        "late_payment": attempt.late_payment,
        "late_refund_reference": attempt.late_refund_reference,
        "created": epoch(attempt.created_at),
    }
