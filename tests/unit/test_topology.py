from __future__ import annotations

import json

from app.domain.events import EventType, Topic
from outbox.apply import _differences
from outbox.topology import CHARGE_MAX_RETRIES, WEBHOOK_MAX_RETRIES, declare


def test_standard_names() -> None:
    topology = declare()
    assert topology.topics == {Topic.EVENTS: "pixwave-events", Topic.ALERTS: "pixwave-alerts"}
    assert [(q.name, q.dlq_name) for q in topology.queues] == [
        ("pixwave-charge", "pixwave-charge-dlq"),
        ("pixwave-webhooks", "pixwave-webhooks-dlq"),
    ]


def test_fifo_names_end_in_fifo_everywhere() -> None:
    topology = declare(prefix="acme", fifo=True)
    names = [*topology.topics.values()] + [n for q in topology.queues for n in (q.name, q.dlq_name)]
    assert all(name.endswith(".fifo") and name.startswith("acme-") for name in names)
    assert topology.queues[0].dlq_name == "acme-charge-dlq.fifo"


def test_redrive_sits_above_the_consumers_retries_and_dlqs_outlive_sources() -> None:
    charge, webhooks = declare().queues
    assert charge.max_receive_count > CHARGE_MAX_RETRIES
    assert webhooks.max_receive_count > WEBHOOK_MAX_RETRIES
    for queue in (charge, webhooks):
        assert queue.dlq_retention_seconds > queue.retention_seconds
        assert queue.retention_seconds <= 14 * 24 * 3600
    # Webhooks retry for at least three days, so their messages must live longer.
    assert webhooks.retention_seconds > 3 * 24 * 3600


def test_filters_route_commands_to_charging_and_merchant_events_to_webhooks() -> None:
    charge_sub, webhook_sub = declare().subscriptions
    assert "payment_intent.created" in charge_sub.event_types
    assert "payment_intent.capture_requested" in charge_sub.event_types
    assert "payment_intent.capture_requested" not in webhook_sub.event_types
    assert not any(t.startswith("alert.") for t in webhook_sub.event_types)
    assert webhook_sub.filter_policy == {"event_type": sorted(webhook_sub.event_types)}
    assert EventType.PAYMENT_INTENT_SUCCEEDED.value in webhook_sub.event_types


def test_show_json_round_trips() -> None:
    declared = declare().to_dict()
    assert json.loads(json.dumps(declared))["queues"][0]["dlq_name"] == "pixwave-charge-dlq"


def test_differences_compare_json_documents_by_meaning() -> None:
    desired = {
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:q", "maxReceiveCount": 15}),
        "VisibilityTimeout": "60",
    }
    current = {
        "RedrivePolicy": '{"maxReceiveCount":"15","deadLetterTargetArn":"arn:q"}',
        "VisibilityTimeout": "30",
    }
    assert _differences(desired, current) == {"VisibilityTimeout": "60"}


def test_differences_never_touch_create_only_attributes() -> None:
    assert _differences({"FifoQueue": "true"}, {}) == {}
