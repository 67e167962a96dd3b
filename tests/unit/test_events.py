"""Event types, topics and the outbox envelope (../shared/DESIGN.md: Event envelope)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain.events import (
    API_VERSION,
    MERCHANT_EVENTS,
    Aggregate,
    EventType,
    Topic,
    build_envelope,
    topic_for,
)

DESIGN_EVENT_TYPES = {
    "payment_intent.created",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.capture_requested",
    "refund.created",
    "refund.succeeded",
    "refund.failed",
}
ENVELOPE_KEYS = {
    "id",
    "type",
    "api_version",
    "created",
    "merchant_id",
    "livemode",
    "aggregate",
    "data",
}


def _envelope(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "event_id": "evt_01JD0000000000000000000000",
        "event_type": EventType.PAYMENT_INTENT_SUCCEEDED,
        "created": 1763700000,
        "merchant_id": "mer_01JD0000000000000000000000",
        "livemode": False,
        "aggregate": Aggregate("payment_intent", "pi_01JD0000000000000000000000", 4),
        "data_object": {"id": "pi_01JD0000000000000000000000", "amount": 1990},
    }
    arguments.update(overrides)
    return build_envelope(**arguments)


def test_every_design_event_type_exists() -> None:
    assert {t.value for t in EventType} >= DESIGN_EVENT_TYPES


def test_envelope_matches_design() -> None:
    assert _envelope() == {
        "id": "evt_01JD0000000000000000000000",
        "type": "payment_intent.succeeded",
        "api_version": "2026-11-01",
        "created": 1763700000,
        "merchant_id": "mer_01JD0000000000000000000000",
        "livemode": False,
        "aggregate": {
            "type": "payment_intent",
            "id": "pi_01JD0000000000000000000000",
            "sequence": 4,
        },
        "data": {"object": {"id": "pi_01JD0000000000000000000000", "amount": 1990}},
    }


def test_envelope_keys_exactly() -> None:
    envelope = _envelope()
    assert set(envelope) == ENVELOPE_KEYS
    assert set(envelope["aggregate"]) == {"type", "id", "sequence"}
    assert set(envelope["data"]) == {"object"}


def test_envelope_type_is_a_plain_string() -> None:
    envelope = _envelope(event_type=EventType.REFUND_CREATED)
    assert type(envelope["type"]) is str
    assert envelope["type"] == "refund.created"


def test_envelope_api_version() -> None:
    assert API_VERSION == "2026-11-01"
    assert _envelope()["api_version"] == API_VERSION


def test_envelope_livemode_passes_through() -> None:
    assert _envelope(livemode=True)["livemode"] is True


def test_envelope_survives_json_round_trip() -> None:
    envelope = _envelope()
    assert json.loads(json.dumps(envelope)) == envelope


def test_only_operator_alerts_go_to_the_alerts_topic() -> None:
    alerts = {t for t in EventType if topic_for(t) is Topic.ALERTS}
    assert alerts == {
        EventType.ALERT_PAYMENT_FAILED_ALL_GATEWAYS,
        EventType.ALERT_GATEWAY_CIRCUIT_OPENED,
        EventType.ALERT_GATEWAY_CIRCUIT_CLOSED,
        EventType.ALERT_RECONCILIATION_MISMATCH,
        EventType.ALERT_OUTBOX_EVENT_PARKED,
        EventType.ALERT_PAYMENT_INTENT_STUCK,
        EventType.ALERT_LATE_PAYMENT_REFUNDED,
        EventType.ALERT_WEBHOOK_ENDPOINT_DISABLED,
        EventType.ALERT_RISK_VELOCITY_UNAVAILABLE,
        EventType.ALERT_RECONCILIATION_UNMATCHED,
    }


def test_merchants_see_neither_commands_nor_alerts() -> None:
    hidden = set(EventType) - set(MERCHANT_EVENTS)
    assert hidden == {
        EventType.PAYMENT_INTENT_CAPTURE_REQUESTED,
        *(t for t in EventType if topic_for(t) is Topic.ALERTS),
    }


@pytest.mark.parametrize(
    ("event_type", "topic"),
    [
        (EventType.PAYMENT_INTENT_CREATED, Topic.EVENTS),
        (EventType.PAYMENT_INTENT_PAYMENT_FAILED, Topic.EVENTS),
        (EventType.REFUND_FAILED, Topic.EVENTS),
        (EventType.ALERT_PAYMENT_FAILED_ALL_GATEWAYS, Topic.ALERTS),
        (EventType.ALERT_GATEWAY_CIRCUIT_OPENED, Topic.ALERTS),
        (EventType.ALERT_RECONCILIATION_MISMATCH, Topic.ALERTS),
    ],
)
def test_topic_for_known_types(event_type: EventType, topic: Topic) -> None:
    assert topic_for(event_type) is topic


def test_design_event_types_never_go_to_alerts() -> None:
    for value in DESIGN_EVENT_TYPES:
        assert topic_for(EventType(value)) is Topic.EVENTS


def test_topic_values() -> None:
    assert Topic.EVENTS.value == "events"
    assert Topic.ALERTS.value == "alerts"
