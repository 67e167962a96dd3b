"""The chaos run's capture invariants, on made-up observations."""

from __future__ import annotations

from devtools.chaos.books import clearing_violations, moved_by_gateway
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


def test_the_simulator_books_count_money_taken_less_money_returned_per_gateway() -> None:
    ledger = {
        "charges": [
            {"gateway": "efi", "amount_cents": 1000, "status": "CONCLUIDA"},
            {"gateway": "efi", "amount_cents": 500, "status": "ATIVA"},  # never paid
            {"gateway": "mercadopago", "amount_cents": 3000, "status": "refunded"},
            {"gateway": "mercadopago", "amount_cents": 2000, "status": "cancelled"},
        ],
        "refunds": [
            {"gateway": "efi", "amount_cents": 400, "status": "DEVOLVIDO"},
            {"gateway": "efi", "amount_cents": 100, "status": "NAO_REALIZADO"},
            {"gateway": "mercadopago", "amount_cents": 3000, "status": None},
        ],
    }
    moved = moved_by_gateway(ledger)
    assert moved == {"efi": 600, "mercadopago": 0}
    assert clearing_violations({"efi": -600}, moved) == []
    assert clearing_violations({"efi": -1000, "mercadopago": 0}, moved) == [
        "ledger: gateway:efi:clearing says 1000 came in, the simulator's books 600"
    ]
