"""Idempotency-Key as ../shared/DESIGN.md fixes it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import psycopg

from tests.support import ApiProcess, Merchant, pix_intent

CONCURRENT_REQUESTS = 20


def _post(api: ApiProcess, merchant: Merchant, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/payment_intents",
        json=body,
        headers={**merchant.headers, "Idempotency-Key": key},
    )


async def test_concurrent_requests_with_one_key_create_one_intent(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    key = f"order-{uuid.uuid4()}"
    body = pix_intent(amount=4321, metadata={"key": key})
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/v1/payment_intents",
                    json=body,
                    headers={**merchant.headers, "Idempotency-Key": key},
                )
                for _ in range(CONCURRENT_REQUESTS)
            )
        )

    statuses = sorted({r.status_code for r in responses})
    assert set(statuses) <= {201, 409}
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    [(intent_id,)] = db.execute(
        "SELECT id FROM payment_intents WHERE metadata->>'key' = %s", (key,)
    ).fetchall()
    events = db.execute(
        "SELECT count(*) FROM outbox WHERE aggregate_id = %s AND event_type = %s",
        (intent_id, "payment_intent.created"),
    ).fetchone()
    assert events == (1,)
    for in_flight in (r for r in responses if r.status_code == 409):
        assert in_flight.json()["code"] == "idempotency_key_in_progress"

    replay = _post(api, merchant, key, body)
    assert replay.status_code == 201
    assert replay.content == created[0].content
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_same_key_with_another_body_is_422(api: ApiProcess, merchant: Merchant) -> None:
    key = f"order-{uuid.uuid4()}"
    assert _post(api, merchant, key, pix_intent(amount=100)).status_code == 201
    reused = _post(api, merchant, key, pix_intent(amount=101))
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_keys_are_scoped_per_merchant(
    api: ApiProcess, merchant: Merchant, other_merchant: Merchant
) -> None:
    key = f"shared-{uuid.uuid4()}"
    mine = _post(api, merchant, key, pix_intent())
    theirs = _post(api, other_merchant, key, pix_intent())
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_refused_request_replays_its_refusal(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    intent = _post(api, merchant, str(uuid.uuid4()), pix_intent()).json()
    db.execute("UPDATE payment_intents SET status = 'succeeded' WHERE id = %s", (intent["id"],))
    key = str(uuid.uuid4())
    url = f"{api.url}/v1/payment_intents/{intent['id']}/cancel"
    headers = {**merchant.headers, "Idempotency-Key": key}

    first = httpx.post(url, headers=headers)
    db.execute("UPDATE payment_intents SET status = 'pending' WHERE id = %s", (intent["id"],))
    second = httpx.post(url, headers=headers)

    assert first.status_code == second.status_code == 409
    assert second.content == first.content


def test_keys_are_kept_at_least_a_day(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    key = f"ttl-{uuid.uuid4()}"
    _post(api, merchant, key, pix_intent())
    row = db.execute(
        "SELECT expires_at - created_at >= interval '24 hours' FROM idempotency_keys "
        "WHERE merchant_id = %s AND key = %s",
        (merchant.merchant_id, key),
    ).fetchone()
    assert row == (True,)
