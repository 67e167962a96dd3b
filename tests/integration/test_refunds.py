"""Refunds: only of succeeded payments, never more than was received."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.integration.ledger_support import post_payment_now
from tests.support import ApiProcess, Merchant, pix_intent


def _succeeded_intent(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], database_url: str
) -> str:
    response = httpx.post(
        f"{api.url}/v1/payment_intents", json=pix_intent(amount=10_000), headers=merchant.headers
    )
    intent_id: str = response.json()["id"]
    # Stand in for the charge worker, which records the payment and posts its entry.
    db.execute(
        "UPDATE payment_intents SET status = 'succeeded', amount_received = amount WHERE id = %s",
        (intent_id,),
    )
    post_payment_now(database_url, intent_id)
    return intent_id


def _refund(api: ApiProcess, merchant: Merchant, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{api.url}/v1/refunds", json=body, headers=merchant.headers)


def test_partial_refunds_up_to_the_amount_received(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], database_url: str
) -> None:
    intent_id = _succeeded_intent(api, merchant, db, database_url)

    first = _refund(api, merchant, {"payment_intent": intent_id, "amount": 3000})
    too_much = _refund(api, merchant, {"payment_intent": intent_id, "amount": 7001})
    rest = _refund(api, merchant, {"payment_intent": intent_id})
    none_left = _refund(api, merchant, {"payment_intent": intent_id})

    assert first.status_code == 201
    assert first.json()["status"] == "pending"
    assert (too_much.status_code, too_much.json()["code"]) == (400, "amount_too_large")
    assert rest.json()["amount"] == 7000
    assert none_left.json()["code"] == "charge_already_refunded"
    intent = httpx.get(f"{api.url}/v1/payment_intents/{intent_id}", headers=merchant.headers)
    assert intent.json()["amount_refunded"] == 10_000
    events = db.execute(
        "SELECT event_type FROM outbox WHERE aggregate_id IN (%s, %s)",
        (first.json()["id"], rest.json()["id"]),
    ).fetchall()
    assert events == [("refund.created",), ("refund.created",)]

    fetched = httpx.get(f"{api.url}/v1/refunds/{first.json()['id']}", headers=merchant.headers)
    assert fetched.json() == first.json()


def test_refund_of_an_unpaid_intent_is_refused(api: ApiProcess, merchant: Merchant) -> None:
    intent = httpx.post(
        f"{api.url}/v1/payment_intents", json=pix_intent(), headers=merchant.headers
    ).json()
    response = _refund(api, merchant, {"payment_intent": intent["id"]})
    assert response.status_code == 409
    assert response.json()["code"] == "payment_intent_unexpected_state"


def test_refund_of_an_unknown_intent_names_the_param(api: ApiProcess, merchant: Merchant) -> None:
    response = _refund(api, merchant, {"payment_intent": "pi_00000000000000000000000000"})
    assert response.status_code == 404
    assert response.json()["param"] == "payment_intent"


def test_every_refund_moves_the_intents_sequence_with_an_event(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], database_url: str
) -> None:
    """A subscriber following the intent alone sees amount_refunded change."""
    intent_id = _succeeded_intent(api, merchant, db, database_url)
    for amount in (3000, 2000):
        assert _refund(api, merchant, {"payment_intent": intent_id, "amount": amount}).is_success
    events = db.execute(
        "SELECT event_type, aggregate_sequence, payload FROM outbox WHERE aggregate_id = %s "
        "ORDER BY position",
        (intent_id,),
    ).fetchall()
    refunded = [
        (sequence, payload["data"]["object"]["amount_refunded"])
        for event_type, sequence, payload in events
        if event_type == "payment_intent.amount_refunded_updated"
    ]
    assert refunded == [(2, 3000), (3, 5000)]
    [(sequence,)] = db.execute(
        "SELECT sequence FROM payment_intents WHERE id = %s", (intent_id,)
    ).fetchall()
    assert sequence == 3
