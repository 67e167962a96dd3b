"""Request shapes for the commands merchants send. Shape only: business rules
(limits, currencies, documents) are checked by the services with precise codes."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, model_validator

from app.domain.intents import CancellationReason, CaptureMethod, PaymentMethodType

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 1000
MAX_TOKEN_CHARS = 200


# PostgreSQL text cannot hold NUL, so it is refused here rather than failing the insert.
Text = Annotated[str, StringConstraints(strict=True, pattern=r"^[^\x00]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PixPayer(_Strict):
    name: Text = Field(min_length=1, max_length=MAX_NAME_CHARS)
    document: Text = Field(min_length=1, max_length=32, description="CPF or CNPJ")


class PixDetails(_Strict):
    payer: PixPayer


class CardDetails(_Strict):
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


class PaymentMethodInput(_Strict):
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


class CreatePaymentIntent(_Strict):
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


class CancelPaymentIntent(_Strict):
    cancellation_reason: CancellationReason | None = None


class CapturePaymentIntent(_Strict):
    amount_to_capture: StrictInt | None = None


class CreateRefund(_Strict):
    payment_intent: Text = Field(min_length=1, max_length=64)
    amount: StrictInt | None = None
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"] | None = None
    metadata: dict[Text, Text] = Field(default_factory=dict)


class CreateWebhookEndpoint(_Strict):
    url: Text = Field(min_length=1, max_length=2048)
    enabled_events: list[Text] = Field(
        min_length=1, max_length=64, description='Event types, or ["*"] for all'
    )
    description: Text | None = Field(default=None, max_length=500)


class RedeliverEvent(_Strict):
    endpoint: Text | None = Field(
        default=None, max_length=64, description="Only this endpoint (default: every one)"
    )


class SetGatewayPriority(_Strict):
    priority: list[Text] | None = Field(
        max_length=8, description="Gateways to try, first to last; null for the default order"
    )
