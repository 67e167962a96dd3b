"""The chaos run's capture invariants, on made-up observations."""

from __future__ import annotations

from devtools.chaos.captures import CaptureRun, capture_violations, moved_backwards

CARD_FLOW = [
    "payment_intent.created",
    "payment_intent.processing",
    "payment_intent.amount_capturable_updated",
    "payment_intent.capture_requested",
    "payment_intent.succeeded",
]


def test_a_card_captured_in_order_moved_forward_only() -> None:
    assert moved_backwards([("pi_1", event) for event in CARD_FLOW]) == []


def test_an_authorization_after_the_capture_request_went_backwards() -> None:
    events = [("pi_1", e) for e in CARD_FLOW[:4]]
    events += [("pi_1", "payment_intent.amount_capturable_updated"), ("pi_2", CARD_FLOW[0])]
    assert moved_backwards(events) == ["pi_1 went back to payment_intent.amount_capturable_updated"]


def test_an_intent_that_ends_twice_is_reported_and_alerts_are_ignored() -> None:
    events = [
        ("pi_1", "payment_intent.succeeded"),
        ("pi_1", "alert.late_payment_refunded"),
        ("pi_1", "payment_intent.canceled"),
    ]
    assert moved_backwards(events) == ["pi_1 ended 2 times"]


def test_a_capture_answered_200_must_end_with_its_amount_at_both_ends() -> None:
    runs = [
        CaptureRun("pi_ok", 2000, captured=True),
        CaptureRun("pi_dropped", 3000, captured=True),
        CaptureRun("pi_not_asked", 4000, captured=False),
    ]
    intents = {
        "pi_ok": ("succeeded", 2000),
        "pi_dropped": ("requires_capture", 0),
        "pi_not_asked": ("failed", 0),
    }
    approved = {"pi_ok": [2000], "pi_dropped": [6000]}
    assert capture_violations(runs, intents, approved) == [
        "pi_dropped: capture of 3000 answered 200, but it is requires_capture with 0 received",
        "pi_dropped: capture of 3000 answered 200, but the gateway took [6000]",
    ]
