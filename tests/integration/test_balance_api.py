"""GET /v1/balance and /v1/balance_transactions over HTTP, for a merchant whose
payments the ledger posted."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.integration.ledger_support import post_payment_now
from tests.support import ApiProcess, Merchant, create_merchant, pix_intent


def _paid(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], database_url: str, amount: int
) -> str:
    response = httpx.post(
        f"{api.url}/v1/payment_intents", json=pix_intent(amount=amount), headers=merchant.headers
    )
    intent_id: str = response.json()["id"]
    db.execute(
        "UPDATE payment_intents SET status = 'succeeded', amount_received = amount WHERE id = %s",
        (intent_id,),
    )
    post_payment_now(database_url, intent_id)
    return intent_id


def _get(api: ApiProcess, merchant: Merchant, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{api.url}{path}", params=params, headers=merchant.headers)


def test_the_balance_and_its_transactions_page_by_page(
    api: ApiProcess, db: psycopg.Connection[Any], database_url: str
) -> None:
    merchant = create_merchant("Loja Saldo")
    empty = _get(api, merchant, "/v1/balance").json()
    assert empty == {
        "object": "balance",
        "livemode": False,
        "available": [],
        "pending": [],
        "reserved": [],
    }
    first, second = (
        _paid(api, merchant, db, database_url, 10_000),
        _paid(api, merchant, db, database_url, 20_000),
    )
    refund = httpx.post(
        f"{api.url}/v1/refunds",
        json={"payment_intent": first, "amount": 1_000},
        headers=merchant.headers,
    )
    assert refund.status_code == 201, refund.text

    balance = _get(api, merchant, "/v1/balance").json()
    # Default PIX pricing: 0.99 %, no fixed part.
    assert balance["pending"] == [{"amount": 9_901 + 19_802 - 1_000, "currency": "BRL"}]
    assert balance["reserved"] == [{"amount": 1_000, "currency": "BRL"}]
    assert balance["available"] == []  # nothing settled yet

    page = _get(api, merchant, "/v1/balance_transactions", limit=2).json()
    assert page["has_more"] is True
    assert [t["type"] for t in page["data"]] == ["refund", "charge"]
    assert page["data"][0] | {"id": None, "created": None, "available_on": None} == {
        "id": None,
        "object": "balance_transaction",
        "type": "refund",
        "amount": -1_000,
        "fee": 0,
        "net": -1_000,
        "currency": "BRL",
        "source": refund.json()["id"],
        "status": "pending",
        "available_on": None,
        "created": None,
        "livemode": False,
    }
    rest = _get(
        api, merchant, "/v1/balance_transactions", starting_after=page["data"][1]["id"]
    ).json()
    assert [t["source"] for t in rest["data"]] == [first]
    assert rest["has_more"] is False

    charges = _get(api, merchant, "/v1/balance_transactions", type="charge").json()
    assert [(t["amount"], t["fee"], t["net"]) for t in charges["data"]] == [
        (20_000, 198, 19_802),
        (10_000, 99, 9_901),
    ]
    of_second = _get(api, merchant, "/v1/balance_transactions", source=second).json()
    [only] = of_second["data"]
    assert _get(api, merchant, f"/v1/balance_transactions/{only['id']}").json() == only


def test_bad_input_is_a_problem_and_others_transactions_are_missing(
    api: ApiProcess,
    merchant: Merchant,
    other_merchant: Merchant,
    db: psycopg.Connection[Any],
    database_url: str,
) -> None:
    intent_id = _paid(api, merchant, db, database_url, 5_000)
    [txn] = _get(api, merchant, "/v1/balance_transactions", source=intent_id).json()["data"]
    theirs = _get(api, other_merchant, f"/v1/balance_transactions/{txn['id']}")
    assert (theirs.status_code, theirs.json()["code"]) == (404, "resource_missing")
    cursor = _get(api, merchant, "/v1/balance_transactions", starting_after="pi_nope")
    assert (cursor.status_code, cursor.json()["param"]) == (400, "starting_after")
    kind = _get(api, merchant, "/v1/balance_transactions", type="payout_of_dreams")
    assert kind.status_code == 400
    assert kind.headers["content-type"].startswith("application/problem+json")
    unauthenticated = httpx.get(f"{api.url}/v1/balance")
    assert unauthenticated.status_code == 401
