"""Event types and the envelope every outbox row carries (../shared/DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

API_VERSION = "2026-11-01"


class EventType(StrEnum):
    PAYMENT_INTENT_CREATED = "payment_intent.created"
    PAYMENT_INTENT_PROCESSING = "payment_intent.processing"
    PAYMENT_INTENT_REQUIRES_ACTION = "payment_intent.requires_action"
    PAYMENT_INTENT_AMOUNT_CAPTURABLE_UPDATED = "payment_intent.amount_capturable_updated"
    PAYMENT_INTENT_SUCCEEDED = "payment_intent.succeeded"
    PAYMENT_INTENT_PAYMENT_FAILED = "payment_intent.payment_failed"
    PAYMENT_INTENT_CANCELED = "payment_intent.canceled"
    # amount_refunded moved: a refund reserved it, or a failed refund gave it back.
    PAYMENT_INTENT_AMOUNT_REFUNDED_UPDATED = "payment_intent.amount_refunded_updated"
    PAYMENT_INTENT_CAPTURE_REQUESTED = "payment_intent.capture_requested"
    REFUND_CREATED = "refund.created"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    PAYOUT_CREATED = "payout.created"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_CANCELED = "payout.canceled"
    # Pending funds became available (the ledger's settlement): the amounts per currency.
    BALANCE_AVAILABLE = "balance.available"
    ALERT_PAYMENT_FAILED_ALL_GATEWAYS = "alert.payment_failed_all_gateways"
    ALERT_GATEWAY_CIRCUIT_OPENED = "alert.gateway_circuit_opened"
    ALERT_GATEWAY_CIRCUIT_CLOSED = "alert.gateway_circuit_closed"
    ALERT_RECONCILIATION_MISMATCH = "alert.reconciliation_mismatch"
    ALERT_OUTBOX_EVENT_PARKED = "alert.outbox_event_parked"
    ALERT_PAYMENT_INTENT_STUCK = "alert.payment_intent_stuck"
    ALERT_LATE_PAYMENT_REFUNDED = "alert.late_payment_refunded"
    ALERT_WEBHOOK_ENDPOINT_DISABLED = "alert.webhook_endpoint_disabled"


# Commands between PixWave's own roles: on the events topic, never sent to merchants.
INTERNAL_EVENTS = frozenset({EventType.PAYMENT_INTENT_CAPTURE_REQUESTED})
# What merchants see, in webhooks and in GET /v1/events: all but commands and alerts.
MERCHANT_EVENTS: tuple[EventType, ...] = tuple(
    event
    for event in EventType
    if event not in INTERNAL_EVENTS and not event.value.startswith("alert.")
)


class Visibility(StrEnum):
    """The ``visibility`` message attribute: who a message is for, to filter on."""

    MERCHANT = "merchant"  # the merchant-visible events: webhooks, GET /v1/events
    INTERNAL = "internal"  # commands between PixWave's roles
    OPERATOR = "operator"  # alerts, on the alerts topic


def visibility_of(event_type: str) -> Visibility:
    if event_type.startswith("alert."):
        return Visibility.OPERATOR
    if event_type in INTERNAL_EVENTS:
        return Visibility.INTERNAL
    return Visibility.MERCHANT


class Topic(StrEnum):
    """Logical topics; the topology maps them to SNS names (``pixwave-events`` …)."""

    EVENTS = "events"
    ALERTS = "alerts"


def topic_for(event_type: EventType) -> Topic:
    return Topic.ALERTS if event_type.value.startswith("alert.") else Topic.EVENTS


@dataclass(frozen=True, slots=True)
class Aggregate:
    type: str
    id: str
    sequence: int


class AggregateOut(TypedDict):
    type: str
    id: str
    sequence: int


class EventDataOut(TypedDict):
    object: dict[str, Any]


class Envelope(TypedDict):
    """The envelope every event carries, to subscribers, webhooks and ``/v1/events``."""

    id: str
    type: str
    api_version: str
    created: int
    merchant_id: str
    livemode: bool
    aggregate: AggregateOut
    data: EventDataOut


def build_envelope(
    *,
    event_id: str,
    event_type: EventType,
    created: int,
    merchant_id: str,
    livemode: bool,
    aggregate: Aggregate,
    data_object: dict[str, Any],
) -> Envelope:
    return {
        "id": event_id,
        "type": event_type.value,
        "api_version": API_VERSION,
        "created": created,
        "merchant_id": merchant_id,
        "livemode": livemode,
        "aggregate": {"type": aggregate.type, "id": aggregate.id, "sequence": aggregate.sequence},
        "data": {"object": data_object},
    }
