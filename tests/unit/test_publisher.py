from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from outbox.publisher import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, PreparedMessage, batches, prepare
from outbox.repository import ClaimedEvent


def _row(
    position: int = 1, *, body_chars: int = 10, traceparent: str | None = "00-a-b-01"
) -> ClaimedEvent:
    return ClaimedEvent(
        position=position,
        id=f"evt_{position}",
        topic="events",
        event_type="payment_intent.created",
        merchant_id="mer_1",
        aggregate_id="pi_1",
        traceparent=traceparent,
        payload_text=json.dumps({"id": f"evt_{position}", "blob": "x" * body_chars}),
        created_at=datetime.now(UTC),
        publish_attempts=0,
    )


def test_prepare_carries_string_attributes_and_the_envelope() -> None:
    message = prepare(_row(7), fifo=False)
    entry = message.entry
    assert entry["Id"] == "7"
    assert json.loads(entry["Message"])["id"] == "evt_7"
    assert {k: v["DataType"] for k, v in entry["MessageAttributes"].items()} == {
        "event_type": "String",
        "merchant_id": "String",
        "traceparent": "String",
        "visibility": "String",
    }
    assert entry["MessageAttributes"]["visibility"]["StringValue"] == "merchant"
    assert "MessageGroupId" not in entry
    assert "Subject" not in entry


def test_commands_and_alerts_say_who_they_are_for() -> None:
    """A subscriber filters on `visibility`: internal commands never reach merchants."""
    command = replace(_row(), event_type="payment_intent.capture_requested")
    alert = replace(_row(), topic="alerts", event_type="alert.gateway_circuit_opened")
    seen = [
        prepare(row, fifo=False).entry["MessageAttributes"]["visibility"]["StringValue"]
        for row in (command, alert)
    ]
    assert seen == ["internal", "operator"]


def test_an_alert_goes_with_its_subject() -> None:
    row = replace(_row(), topic="alerts", subject="PixWave: gateway efi circuit OPEN")
    message = prepare(row, fifo=True)
    assert message.entry["Subject"] == "PixWave: gateway efi circuit OPEN"
    assert message.size_bytes > prepare(_row(), fifo=True).size_bytes


def test_prepare_for_fifo_groups_by_aggregate_and_dedups_by_event() -> None:
    entry = prepare(_row(3), fifo=True).entry
    assert (entry["MessageGroupId"], entry["MessageDeduplicationId"]) == ("pi_1", "evt_3")


def test_prepare_omits_a_missing_traceparent() -> None:
    assert (
        "traceparent" not in prepare(_row(traceparent=None), fifo=False).entry["MessageAttributes"]
    )


def test_size_counts_body_and_attributes() -> None:
    small, big = (
        prepare(_row(body_chars=10), fifo=False),
        prepare(_row(body_chars=1010), fifo=False),
    )
    assert big.size_bytes - small.size_bytes == 1000
    assert small.size_bytes > len(small.entry["Message"])


def _message(position: int, size: int) -> PreparedMessage:
    return PreparedMessage(position=position, topic="events", entry={}, size_bytes=size)


def test_batches_hold_at_most_ten_entries() -> None:
    sizes = [len(b) for b in batches([_message(i, 100) for i in range(25)])]
    assert sizes == [MAX_BATCH_ENTRIES, MAX_BATCH_ENTRIES, 5]


def test_batches_stay_within_the_byte_quota() -> None:
    third = MAX_BATCH_BYTES // 3
    groups = list(batches([_message(i, third + 1) for i in range(5)]))
    assert [len(g) for g in groups] == [2, 2, 1]
    assert all(sum(m.size_bytes for m in g) <= MAX_BATCH_BYTES for g in groups)


def test_batches_keep_order() -> None:
    flat = [m.position for b in batches([_message(i, 50_000) for i in range(12)]) for m in b]
    assert flat == list(range(12))
