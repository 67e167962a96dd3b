"""Who may call, and how often."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.support import ApiProcess, Merchant, create_merchant, pix_intent, start_api

RATE_LIMIT_PER_SECOND = 5
AUTH_FAILURES_PER_MINUTE = 3


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer sk_test_not_a_real_key", "Basic dXNlcjpwYXNz", "Bearer pk_live_x"],
)
def test_missing_or_bad_keys_are_401(api: ApiProcess, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{api.url}/v1/payment_intents", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_revoked_key_stops_working(api: ApiProcess) -> None:
    merchant = create_merchant("Loja Revogada")
    url = f"{api.url}/v1/payment_intents"
    assert httpx.get(url, headers=merchant.headers).status_code == 200
    subprocess.run([sys.executable, "-m", "app.cli", "keys", "revoke", merchant.key_id], check=True)
    assert httpx.get(url, headers=merchant.headers).status_code == 401


def test_a_key_is_rotated_by_creating_one_then_revoking_the_old(api: ApiProcess) -> None:
    merchant = create_merchant("Loja Rotativa")
    created = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "create", merchant.merchant_id, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    new_key = json.loads(created.stdout)
    new_headers = {"Authorization": f"Bearer {new_key['api_key']}"}
    intent = httpx.post(f"{api.url}/v1/payment_intents", json=pix_intent(), headers=new_headers)
    assert intent.status_code == 201  # the new key acts for the same merchant
    subprocess.run([sys.executable, "-m", "app.cli", "keys", "revoke", merchant.key_id], check=True)
    read = httpx.get(f"{api.url}/v1/payment_intents/{intent.json()['id']}", headers=new_headers)
    assert read.status_code == 200
    assert httpx.get(f"{api.url}/v1/payment_intents", headers=merchant.headers).status_code == 401


def test_merchants_never_see_each_others_objects(
    api: ApiProcess, merchant: Merchant, other_merchant: Merchant
) -> None:
    mine = httpx.post(f"{api.url}/v1/payment_intents", json=pix_intent(), headers=merchant.headers)
    intent_id = mine.json()["id"]

    peek = httpx.get(f"{api.url}/v1/payment_intents/{intent_id}", headers=other_merchant.headers)
    cancel = httpx.post(
        f"{api.url}/v1/payment_intents/{intent_id}/cancel", headers=other_merchant.headers
    )
    refund = httpx.post(
        f"{api.url}/v1/refunds", json={"payment_intent": intent_id}, headers=other_merchant.headers
    )
    listed = httpx.get(f"{api.url}/v1/payment_intents", headers=other_merchant.headers).json()

    assert (peek.status_code, cancel.status_code, refund.status_code) == (404, 404, 404)
    assert intent_id not in {item["id"] for item in listed["data"]}
    still = httpx.get(f"{api.url}/v1/payment_intents/{intent_id}", headers=merchant.headers)
    assert still.json()["status"] == "pending"


def test_rate_limit_answers_429_with_retry_after(merchant: Merchant) -> None:
    with (
        start_api({"PIXWAVE_RATE_LIMIT_PER_SECOND": str(RATE_LIMIT_PER_SECOND)}) as limited,
        httpx.Client(base_url=limited.url, headers=merchant.headers) as client,
    ):
        statuses = [client.get("/v1/payment_intents").status_code for _ in range(30)]
        refused = client.get("/v1/payment_intents")
        while refused.status_code != 429:
            refused = client.get("/v1/payment_intents")

    assert 429 in statuses
    assert statuses.count(200) >= RATE_LIMIT_PER_SECOND
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_client_failing_to_authenticate_too_often_is_refused_for_the_minute(
    merchant: Merchant,
) -> None:
    overrides = {
        "PIXWAVE_AUTH_FAILURES_PER_MINUTE": str(AUTH_FAILURES_PER_MINUTE),
        "PIXWAVE_NAME_PREFIX": f"auth{uuid.uuid4().hex[:8]}",  # counters of its own
    }
    bad = {"Authorization": "Bearer sk_test_guess"}
    with start_api(overrides) as limited, httpx.Client(base_url=limited.url) as client:
        guesses = [client.get("/v1/payment_intents", headers=bad) for _ in range(2)]
        guesses.append(client.get("/v1/payment_intents"))  # no key at all fails too
        refused = client.get("/v1/payment_intents", headers=bad)
        # Even the right key is refused now: a guesser must not learn it worked.
        right = client.get("/v1/payment_intents", headers=merchant.headers)

    assert [g.status_code for g in guesses] == [401] * AUTH_FAILURES_PER_MINUTE
    for answer in (refused, right):
        assert answer.status_code == 429, answer.text
        assert answer.json()["code"] == "rate_limited"
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
