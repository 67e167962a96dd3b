"""Response shapes, published in /openapi.json. Handlers render views directly
(app/payments/views.py); the schema test proves the two agree."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.domain.charges import LatePayment
from app.domain.intents import CaptureMethod, IntentStatus, PaymentMethodType, RefundStatus


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    param: str | None
    request_id: str | None


class PayerOut(BaseModel):
    name: str | None
    document: str | None
    document_type: Literal["cpf", "cnpj"] | None


class PixOut(BaseModel):
    payer: PayerOut


class CardOut(BaseModel):
    token_last4: str
    payment_method_id: str | None = None
    issuer_id: str | None = None


class PaymentMethodOut(BaseModel):
    type: PaymentMethodType
    pix: PixOut | None = None
    card: CardOut | None = None


class PaymentIntentOut(BaseModel):
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
    expires_at: int | None
    created: int
    livemode: bool


class PaymentIntentList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[PaymentIntentOut]


class AttemptOut(BaseModel):
    id: str
    object: Literal["payment_attempt"]
    payment_intent: str
    gateway: str
    number: int
    outcome: str
    charge_status: str | None
    gateway_status: str | None
    gateway_reference: str | None
    error: str | None
    routing: dict[str, Any] | None
    late_payment: LatePayment | None = Field(
        description="A payment that reached this try's charge after the intent could no "
        "longer take it (it had ended, or a later try replaced the charge); PixWave "
        "refunds it automatically."
    )
    late_refund_reference: str | None = Field(description="The gateway's id of that refund.")
    created: int


class AttemptList(BaseModel):
    object: Literal["list"]
    url: str
    data: list[AttemptOut]


class RefundOut(BaseModel):
    id: str
    object: Literal["refund"]
    payment_intent: str
    amount: int
    currency: str
    status: RefundStatus
    reason: str | None
    failure_reason: str | None
    metadata: dict[str, str]
    created: int
    livemode: bool


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


def ok(status: int, model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model}}


WRITE_ERRORS = problem_responses(400, 401, 404, 409, 413, 415, 422, 429)
READ_ERRORS = problem_responses(400, 401, 404, 429)


class WebhookEndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"]
    url: str
    description: str | None
    enabled_events: list[str]
    status: Literal["enabled", "disabled"]
    disabled_reason: str | None
    livemode: bool
    created: int
    secret: str | None = None


class WebhookEndpointList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[WebhookEndpointOut]


class WebhookDeliveryOut(BaseModel):
    id: str
    object: Literal["webhook_delivery"]
    event: str
    event_type: str
    webhook_endpoint: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: int | None
    delivered_at: int | None
    created: int


class WebhookDeliveryList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[WebhookDeliveryOut]


class AggregateOut(BaseModel):
    type: str
    id: str
    sequence: int


class EventDataOut(BaseModel):
    object: dict[str, Any]


class EventOut(BaseModel):
    """The envelope webhooks carry (DESIGN.md), byte for byte the same fields."""

    id: str
    type: str
    api_version: str
    created: int
    merchant_id: str
    livemode: bool
    aggregate: AggregateOut
    data: EventDataOut


class EventList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[EventOut]


class RedeliveryOut(BaseModel):
    object: Literal["event_redelivery"]
    event: str
    webhook_endpoints: list[str]


class GatewayPriorityOut(BaseModel):
    object: Literal["gateway_priority"]
    priority: list[str] | None
    default: list[str]
