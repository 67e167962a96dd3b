"""Webhook endpoints', deliveries' and events' shapes: commands and answers."""

from __future__ import annotations

from typing import Literal, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from app.db.webhook_models import WebhookDelivery, WebhookEndpoint
from app.domain.events import Envelope
from app.domain.shapes import Strict, Text
from app.domain.webhooks import DeliveryStatus, EndpointStatus
from app.encoding import epoch


class CreateWebhookEndpoint(Strict):
    url: Text = Field(min_length=1, max_length=2048)
    enabled_events: list[Text] = Field(
        min_length=1, max_length=64, description='Event types, or ["*"] for all'
    )
    description: Text | None = Field(default=None, max_length=500)


class RedeliverEvent(Strict):
    endpoint: Text | None = Field(
        default=None, max_length=64, description="Only this endpoint (default: every one)"
    )


# Endpoints' and deliveries' answers are written once, as TypedDicts: each types its
# view below and is published in /openapi.json.
class WebhookEndpointOut(TypedDict):
    id: str
    object: Literal["webhook_endpoint"]
    url: str
    description: str | None
    enabled_events: list[str]
    status: EndpointStatus
    disabled_reason: str | None
    livemode: bool
    created: int
    secret: NotRequired[str]


class WebhookEndpointList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[WebhookEndpointOut]


class WebhookDeliveryOut(TypedDict):
    id: str
    object: Literal["webhook_delivery"]
    event: str
    event_type: str
    webhook_endpoint: str
    status: DeliveryStatus
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


class EventList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[Envelope]


class RedeliveryOut(BaseModel):
    object: Literal["event_redelivery"]
    event: str
    webhook_endpoints: list[str]


def webhook_endpoint_view(
    endpoint: WebhookEndpoint, *, secret: str | None = None
) -> WebhookEndpointOut:
    """`secret` is given only when it was just made: it is never shown again."""
    view: WebhookEndpointOut = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled_events": endpoint.enabled_events,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "livemode": endpoint.livemode,
        "created": epoch(endpoint.created_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def webhook_delivery_view(delivery: WebhookDelivery) -> WebhookDeliveryOut:
    return {
        "id": delivery.id,
        "object": "webhook_delivery",
        "event": delivery.event_id,
        "event_type": delivery.event_type,
        "webhook_endpoint": delivery.endpoint_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": epoch(delivery.next_attempt_at),
        "delivered_at": epoch(delivery.delivered_at),
        "created": epoch(delivery.created_at),
    }
