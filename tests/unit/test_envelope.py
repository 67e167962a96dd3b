from __future__ import annotations

import json

import pytest

from app.domain.errors import PoisonMessage
from app.domain.events import Aggregate, EventType, build_envelope
from workers.runtime.envelope import parse_event

ENVELOPE = build_envelope(
    event_id="evt_1",
    event_type=EventType.PAYMENT_INTENT_CREATED,
    created=1763700000,
    merchant_id="mer_1",
    livemode=False,
    aggregate=Aggregate("payment_intent", "pi_1", 3),
    data_object={"id": "pi_1", "amount": 1990},
)


def test_parses_a_raw_envelope() -> None:
    event = parse_event(json.dumps(ENVELOPE))
    assert (event.id, event.type, event.aggregate.sequence) == (
        "evt_1",
        "payment_intent.created",
        3,
    )
    assert event.object == {"id": "pi_1", "amount": 1990}


def test_unwraps_an_sns_notification() -> None:
    wrapped = {"Type": "Notification", "MessageId": "x", "Message": json.dumps(ENVELOPE)}
    assert parse_event(json.dumps(wrapped)).id == "evt_1"


@pytest.mark.parametrize(
    "body",
    [
        "{",
        "[]",
        json.dumps({**ENVELOPE, "aggregate": {"type": "payment_intent", "id": "pi_1"}}),
        json.dumps({**ENVELOPE, "id": ""}),
        json.dumps({"Type": "Notification", "Message": "not json"}),
    ],
    ids=["truncated", "list", "no-sequence", "empty-id", "sns-with-garbage"],
)
def test_anything_else_is_poison(body: str) -> None:
    with pytest.raises(PoisonMessage):
        parse_event(body)
