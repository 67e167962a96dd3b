"""The pure parts of `pixwave dlq`: naming queues, choosing messages, what is sent
back, why a message failed, and pacing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.db.models import MessageFailure
from app.domain.errors import InvalidRequest
from app.operators.dlq import (
    REDRIVE_RUN_ATTRIBUTE,
    Pacer,
    Selection,
    is_copy_of_run,
    send_back_request,
)
from app.operators.ledger import Ledger, reason_for
from app.operators.queues import DeadLetter, find_spec, oldest_age_seconds, read_dead_letter
from outbox.topology import declare
from workers.runtime.dead_letters import REASON_ATTRIBUTE, SOURCE_MESSAGE_ID_ATTRIBUTE

SENT_MS = 1_763_700_000_000


def _envelope(event_id: str, event_type: str = "payment_intent.created") -> str:
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "api_version": "2026-11-01",
            "created": 1763700000,
            "merchant_id": "mer_1",
            "livemode": False,
            "aggregate": {"type": "payment_intent", "id": "pi_1", "sequence": 1},
            "data": {"object": {}},
        }
    )


def _message(
    body: str, *, message_id: str = "m-1", sent_ms: int = SENT_MS, **attributes: str
) -> dict[str, Any]:
    return {
        "MessageId": message_id,
        "ReceiptHandle": f"receipt-{message_id}",
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": str(sent_ms)},
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    }


def _letter(body: str = "", **kwargs: Any) -> DeadLetter:
    return read_dead_letter(_message(body or _envelope("evt_1"), **kwargs))


def _failure(message_id: str, event_id: str | None, error: str) -> MessageFailure:
    return MessageFailure(
        queue="pixwave-charge",
        message_id=message_id,
        consumer="charge",
        event_id=event_id,
        error_class="PoisonMessage",
        error_message=error,
        attempts=3,
    )


def test_a_dlq_is_named_in_full_or_by_its_base_name() -> None:
    standard = declare(prefix="acme")
    assert find_spec(standard, "acme", "acme-charge-dlq").name == "acme-charge"
    assert find_spec(standard, "acme", "webhooks").dlq_name == "acme-webhooks-dlq"
    fifo = declare(prefix="acme", fifo=True)
    assert find_spec(fifo, "acme", "charge").dlq_name == "acme-charge-dlq.fifo"
    assert find_spec(fifo, "acme", "acme-charge-dlq.fifo").name == "acme-charge.fifo"


@pytest.mark.parametrize("given", ["acme-charge", "charge-dlq", "pixwave-charge-dlq", ""])
def test_other_names_are_refused_listing_the_known_ones(given: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        find_spec(declare(prefix="acme"), "acme", given)
    assert refused.value.message.endswith(
        "known: acme-charge-dlq (charge), acme-webhooks-dlq (webhooks)"
    )


def test_a_letter_reads_its_event_or_falls_back_to_attributes() -> None:
    letter = _letter(_envelope("evt_9", "refund.created"))
    assert (letter.event_id, letter.event_type, letter.aggregate_id) == (
        "evt_9",
        "refund.created",
        "pi_1",
    )
    assert (letter.receive_count, letter.sent_at) == (2, SENT_MS / 1000)
    junk = _letter("{not json", event_type="payment_intent.created")
    assert (junk.event_id, junk.event_type) == (None, "payment_intent.created")
    assert junk.source_message_id == "m-1"
    copy = _letter("{not json", **{SOURCE_MESSAGE_ID_ATTRIBUTE: "original"})
    assert copy.source_message_id == "original"


def test_selection_by_type_and_by_any_of_the_three_ids() -> None:
    letter = _letter(
        _envelope("evt_1", "refund.created"), **{SOURCE_MESSAGE_ID_ATTRIBUTE: "source-1"}
    )
    assert Selection().everything
    assert Selection().matches(letter)
    assert Selection(event_types=frozenset({"refund.created"})).matches(letter)
    assert not Selection(event_types=frozenset({"refund.failed"})).matches(letter)
    for given in ("m-1", "source-1", "evt_1"):
        assert Selection(ids=frozenset({given, "other"})).matches(letter)
    assert not Selection(ids=frozenset({"other"})).matches(letter)
    # Both given: both must hold.
    assert not Selection(frozenset({"refund.failed"}), frozenset({"evt_1"})).matches(letter)


def test_sent_back_without_the_workers_annotations() -> None:
    letter = _letter(
        event_type="payment_intent.created",
        **{REASON_ATTRIBUTE: "no handler", SOURCE_MESSAGE_ID_ATTRIBUTE: "source-1"},
    )
    request = send_back_request(letter, "http://sqs/charge")
    assert request == {
        "QueueUrl": "http://sqs/charge",
        "MessageBody": letter.message["Body"],
        "MessageAttributes": {
            "event_type": {"DataType": "String", "StringValue": "payment_intent.created"}
        },
    }
    assert "MessageAttributes" not in send_back_request(_letter("{not json"), "u")


def test_a_copy_names_its_run_and_only_that_run_takes_it_for_its_own() -> None:
    request = send_back_request(_letter(**{REDRIVE_RUN_ATTRIBUTE: "old-run m-0"}), "u", "run-1")
    marker = request["MessageAttributes"][REDRIVE_RUN_ATTRIBUTE]["StringValue"]
    assert marker == "run-1 m-1"
    came_back = _letter(**{REDRIVE_RUN_ATTRIBUTE: marker})
    assert is_copy_of_run(came_back, "run-1")
    assert not is_copy_of_run(came_back, "run-2")
    assert not is_copy_of_run(_letter(), "run-1")


def test_fifo_keeps_its_group_and_deduplicates_on_the_dlq_message() -> None:
    message = _message(_envelope("evt_1"), message_id="dlq-7")
    message["Attributes"] |= {"MessageGroupId": "pi_1", "MessageDeduplicationId": "evt_1"}
    request = send_back_request(read_dead_letter(message), "u")
    assert (request["MessageGroupId"], request["MessageDeduplicationId"]) == ("pi_1", "dlq-7")


def test_the_ledger_explains_by_message_id_first_then_by_the_latest_of_the_event() -> None:
    letter = _letter(**{REASON_ATTRIBUTE: "carried"})
    by_id = _failure("m-1", "evt_other", "by id")
    latest, older = _failure("m-2", "evt_1", "latest"), _failure("m-3", "evt_1", "older")
    assert reason_for(letter, Ledger([latest, by_id])).text == "PoisonMessage: by id"
    reason = reason_for(letter, Ledger([latest, older]))
    assert (reason.text, reason.source, reason.failures, reason.consumer) == (
        "PoisonMessage: latest",
        "ledger",
        3,
        "charge",
    )
    assert reason_for(letter, Ledger([])).text == "carried"
    assert reason_for(letter, Ledger([])).source == "message attribute"
    unknown = reason_for(_letter(), Ledger([], "no database configured"))
    assert (unknown.text, unknown.source) == ("unknown (no database configured)", "unknown")


def test_oldest_age_is_the_earliest_sent_timestamp() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    messages = [
        _message("a", sent_ms=int((now - 30) * 1000)),
        _message("b", sent_ms=int((now - 90) * 1000)),
    ]
    assert oldest_age_seconds(messages, now) == 90
    assert oldest_age_seconds([], now) is None


def test_the_pacer_spaces_calls_by_the_rate() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(4, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.25]
    clock[0] += 10  # idle time is not saved up for a burst
    pacer.wait()
    pacer.wait()
    assert slept == [0.25, 0.25, 0.25]

    unlimited = Pacer(None, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        unlimited.wait()
    assert len(slept) == 3
