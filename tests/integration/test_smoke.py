from __future__ import annotations

import httpx

from tests.support import ApiProcess, Merchant, pix_intent


def test_created_intent_is_readable(api: ApiProcess, merchant: Merchant) -> None:
    created = httpx.post(
        f"{api.url}/v1/payment_intents", json=pix_intent(), headers=merchant.headers
    )
    assert created.status_code == 201, created.text
    fetched = httpx.get(
        f"{api.url}/v1/payment_intents/{created.json()['id']}", headers=merchant.headers
    )
    assert fetched.json() == created.json()
