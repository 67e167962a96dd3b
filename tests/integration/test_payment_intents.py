"""The payment-intents API over real HTTP, with the outbox checked in PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import psycopg

from app.security import DocumentCipher
from tests.services import TEST_DOCUMENT_KEY
from tests.support import ApiProcess, Merchant, card_intent, pix_intent


def _create(api: ApiProcess, merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{api.url}/v1/payment_intents", json=body, headers=merchant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _events(db: psycopg.Connection[Any], aggregate_id: str) -> list[tuple[str, int, Any]]:
    return db.execute(
        "SELECT event_type, aggregate_sequence, payload FROM outbox "
        "WHERE aggregate_id = %s ORDER BY position",
        (aggregate_id,),
    ).fetchall()


def test_pix_intent_masks_and_encrypts_the_payer_document(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    intent = _create(api, merchant, pix_intent(description="Pedido 42", metadata={"order": "42"}))

    assert intent["status"] == "pending"
    assert intent["payment_method"]["pix"]["payer"]["document"] == "***.982.247-**"
    assert intent["expires_at"] - intent["created"] == 3600
    stored = db.execute(
        "SELECT payer_document_encrypted FROM payment_intents WHERE id = %s", (intent["id"],)
    ).fetchone()
    assert stored is not None
    assert b"52998224725" not in stored[0]
    cipher = DocumentCipher(base64.b64decode(TEST_DOCUMENT_KEY))
    assert cipher.decrypt(stored[0], merchant_id=merchant.merchant_id) == "52998224725"


def test_create_writes_one_created_event_carrying_the_public_object(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    intent = _create(api, merchant, pix_intent())

    [(event_type, sequence, payload)] = _events(db, intent["id"])
    assert (event_type, sequence) == ("payment_intent.created", 1)
    assert payload["type"] == "payment_intent.created"
    assert payload["merchant_id"] == merchant.merchant_id
    assert payload["aggregate"] == {"type": "payment_intent", "id": intent["id"], "sequence": 1}
    assert payload["data"]["object"] == intent
    assert "52998224725" not in str(payload)


def test_card_intent_shows_only_the_token_tail(api: ApiProcess, merchant: Merchant) -> None:
    intent = _create(api, merchant, card_intent(capture_method="manual"))
    assert intent["payment_method"] == {"type": "card", "card": {"token_last4": "7b4d"}}
    assert intent["capture_method"] == "manual"
    assert intent["expires_at"] is None


def test_list_paginates_newest_first_and_filters_by_status(
    api: ApiProcess, other_merchant: Merchant
) -> None:
    ids = [_create(api, other_merchant, pix_intent(amount=100 + i))["id"] for i in range(5)]
    httpx.post(f"{api.url}/v1/payment_intents/{ids[0]}/cancel", headers=other_merchant.headers)
    url = f"{api.url}/v1/payment_intents"

    first = httpx.get(url, params={"limit": 3}, headers=other_merchant.headers).json()
    rest = httpx.get(
        url,
        params={"limit": 3, "starting_after": first["data"][-1]["id"]},
        headers=other_merchant.headers,
    ).json()
    canceled = httpx.get(url, params={"status": "canceled"}, headers=other_merchant.headers).json()

    listed = [item["id"] for item in first["data"] + rest["data"]]
    assert listed[: len(ids)] == list(reversed(ids))
    assert first["has_more"] is True
    assert [item["id"] for item in canceled["data"]] == [ids[0]]


def test_cancel_records_the_reason_and_an_event(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    intent = _create(api, merchant, pix_intent())
    response = httpx.post(
        f"{api.url}/v1/payment_intents/{intent['id']}/cancel",
        json={"cancellation_reason": "duplicate"},
        headers=merchant.headers,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert response.json()["cancellation_reason"] == "duplicate"
    assert [(e[0], e[1]) for e in _events(db, intent["id"])] == [
        ("payment_intent.created", 1),
        ("payment_intent.canceled", 2),
    ]

    again = httpx.post(
        f"{api.url}/v1/payment_intents/{intent['id']}/cancel", headers=merchant.headers
    )
    assert again.status_code == 409
    assert again.json()["code"] == "payment_intent_unexpected_state"
    assert len(_events(db, intent["id"])) == 2


def test_capture_requests_the_authorized_amount(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    intent = _create(api, merchant, card_intent(amount=5000, capture_method="manual"))
    capture_url = f"{api.url}/v1/payment_intents/{intent['id']}/capture"
    assert httpx.post(capture_url, headers=merchant.headers).status_code == 409
    # Stand in for the charge worker, which authorizes the card.
    db.execute(
        "UPDATE payment_intents SET status = 'requires_capture', amount_capturable = 5000 "
        "WHERE id = %s",
        (intent["id"],),
    )

    too_much = httpx.post(capture_url, json={"amount_to_capture": 5001}, headers=merchant.headers)
    captured = httpx.post(capture_url, json={"amount_to_capture": 4000}, headers=merchant.headers)

    assert too_much.status_code == 400
    assert too_much.json()["param"] == "amount_to_capture"
    assert captured.status_code == 200
    assert captured.json()["status"] == "processing"
    assert captured.json()["amount_capturable"] == 4000
    assert _events(db, intent["id"])[-1][0] == "payment_intent.capture_requested"


def test_unknown_intent_is_404(api: ApiProcess, merchant: Merchant) -> None:
    for intent_id in ("pi_00000000000000000000000000", "nonsense"):
        response = httpx.get(f"{api.url}/v1/payment_intents/{intent_id}", headers=merchant.headers)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
