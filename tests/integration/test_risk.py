"""Risk rules over real HTTP, PostgreSQL and Redis: each rule type, blocks before any
gateway, reviews opened and closed (by refund too), velocity exact under concurrency,
a Redis outage per rule, bad definitions, and the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from app.embedded import free_port
from app.redis_fallback import RedisOrMemory, open_redis
from app.risk.evaluation import VelocityCheck
from app.risk.rules import Action, Velocity, VelocityKey
from app.risk.velocity import VelocityStore
from tests.integration.ledger_support import post_payment_now
from tests.support import (
    ApiProcess,
    Merchant,
    card_intent,
    create_merchant,
    pix_intent,
    start_api,
)

ANOTHER_CPF = "111.444.777-35"


@pytest.fixture
def shop(service_env: dict[str, str]) -> Merchant:
    """A merchant of its own: rules are per merchant."""
    return create_merchant("Loja de Risco")


def _rule(api: ApiProcess, shop: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{api.url}/v1/risk_rules", json=body, headers=shop.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _intent(api: ApiProcess, shop: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{api.url}/v1/payment_intents", json=body, headers=shop.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _pix_from(document: str, amount: int = 1990) -> dict[str, Any]:
    body = pix_intent(amount=amount)
    body["payment_method"]["pix"]["payer"]["document"] = document
    return body


def _card(last4: str, **overrides: Any) -> dict[str, Any]:
    body = card_intent(**overrides)
    body["payment_method"]["card"] |= {"payment_method_id": "visa", "issuer_id": "310"}
    body["payment_method"]["card"]["last4"] = last4
    return body


def _event_types(db: psycopg.Connection[Any], aggregate_id: str) -> list[str]:
    rows = db.execute(
        "SELECT event_type FROM outbox WHERE aggregate_id = %s ORDER BY position", (aggregate_id,)
    ).fetchall()
    return [row[0] for row in rows]


def _payloads(db: psycopg.Connection[Any], aggregate_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT payload FROM outbox WHERE aggregate_id = %s ORDER BY position", (aggregate_id,)
    ).fetchall()
    return [row[0] for row in rows]


def _paid(db: psycopg.Connection[Any], database_url: str, intent_id: str) -> None:
    """Stand in for the charge worker, which records the payment and posts its entry."""
    db.execute(
        "UPDATE payment_intents SET status = 'succeeded', amount_received = amount WHERE id = %s",
        (intent_id,),
    )
    post_payment_now(database_url, intent_id)


def test_a_blocked_intent_fails_at_once_and_its_events_carry_the_reasons(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any]
) -> None:
    rule = _rule(api, shop, {"type": "amount_limit", "max_amount": 5000, "action": "block"})

    blocked = _intent(api, shop, pix_intent(amount=5001))
    passed = _intent(api, shop, pix_intent(amount=5000))

    assert rule["id"].startswith("rr_")
    assert rule["object"] == "risk_rule"
    assert blocked["status"] == "failed"
    assert blocked["last_payment_error"]["code"] == "blocked_by_risk"
    assert blocked["risk"]["decision"] == "block"
    assert blocked["risk"]["score"] == 90
    assert [r["rule"] for r in blocked["risk"]["reasons"]] == [rule["id"]]
    assert (passed["status"], passed["risk"]["decision"]) == ("pending", "allow")
    # Created and failed in one transaction: the charge worker finds nothing to charge.
    assert _event_types(db, blocked["id"]) == [
        "payment_intent.created",
        "payment_intent.payment_failed",
    ]
    assert _payloads(db, blocked["id"])[-1]["data"]["object"] == blocked
    assert _event_types(db, passed["id"]) == ["payment_intent.created"]


def test_a_review_lets_the_charge_proceed_and_an_approval_closes_it(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any]
) -> None:
    _rule(api, shop, {"type": "amount_limit", "method": "pix", "max_amount": 1000})

    intent = _intent(api, shop, pix_intent(amount=1990))
    review_id = intent["risk"]["review"]["id"]
    listed = httpx.get(f"{api.url}/v1/reviews", params={"open": "true"}, headers=shop.headers)
    approved = httpx.post(f"{api.url}/v1/reviews/{review_id}/approve", headers=shop.headers)
    again = httpx.post(f"{api.url}/v1/reviews/{review_id}/approve", headers=shop.headers)
    after = httpx.get(f"{api.url}/v1/payment_intents/{intent['id']}", headers=shop.headers)

    assert intent["status"] == "pending"  # charged as any other
    assert intent["risk"]["decision"] == "review"
    assert intent["risk"]["review"] == {"id": review_id, "open": True, "closed_reason": None}
    assert [r["id"] for r in listed.json()["data"]] == [review_id]
    assert approved.status_code == 200
    assert (approved.json()["open"], approved.json()["closed_reason"]) == (False, "approved")
    assert (again.status_code, again.json()["code"]) == (409, "review_already_closed")
    assert after.json()["risk"]["review"]["closed_reason"] == "approved"
    assert _event_types(db, intent["id"]) == [
        "payment_intent.created",
        "payment_intent.review_opened",
        "payment_intent.review_closed",
    ]
    assert _payloads(db, intent["id"])[-1]["data"]["object"] == after.json()


def test_a_review_closed_by_refund_refunds(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any], database_url: str
) -> None:
    _rule(api, shop, {"type": "amount_limit", "max_amount": 1000})
    intent = _intent(api, shop, pix_intent(amount=7000))
    _paid(db, database_url, intent["id"])

    closed = httpx.post(
        f"{api.url}/v1/reviews/{intent['risk']['review']['id']}/refund", headers=shop.headers
    )

    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_reason"] == "refunded"
    refund = httpx.get(f"{api.url}/v1/refunds/{closed.json()['refund']}", headers=shop.headers)
    assert refund.json()["amount"] == 7000
    assert refund.json()["reason"] == "fraudulent"
    assert refund.json()["status"] == "pending"  # the charge worker returns the money
    after = httpx.get(f"{api.url}/v1/payment_intents/{intent['id']}", headers=shop.headers)
    assert after.json()["amount_refunded"] == 7000
    assert _event_types(db, refund.json()["id"]) == ["refund.created"]
    assert _event_types(db, intent["id"])[-2:] == [
        "payment_intent.amount_refunded_updated",
        "payment_intent.review_closed",
    ]


def test_refunding_the_review_of_an_unpaid_intent_cancels_it(
    api: ApiProcess, shop: Merchant
) -> None:
    _rule(api, shop, {"type": "amount_limit", "max_amount": 1000})
    intent = _intent(api, shop, pix_intent(amount=7000))

    closed = httpx.post(
        f"{api.url}/v1/reviews/{intent['risk']['review']['id']}/refund", headers=shop.headers
    )

    after = httpx.get(f"{api.url}/v1/payment_intents/{intent['id']}", headers=shop.headers)
    assert (closed.json()["closed_reason"], closed.json()["refund"]) == ("refunded", None)
    assert (after.json()["status"], after.json()["cancellation_reason"]) == (
        "canceled",
        "fraudulent",
    )


def test_two_operators_closing_one_review_at_once_close_it_once(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any], database_url: str
) -> None:
    _rule(api, shop, {"type": "amount_limit", "max_amount": 1000})
    intent = _intent(api, shop, pix_intent(amount=7000))
    _paid(db, database_url, intent["id"])
    url = f"{api.url}/v1/reviews/{intent['risk']['review']['id']}"

    async def close_both() -> list[httpx.Response]:
        async with httpx.AsyncClient(headers=shop.headers, timeout=30) as client:
            return list(
                await asyncio.gather(client.post(f"{url}/refund"), client.post(f"{url}/approve"))
            )

    answers = asyncio.run(close_both())

    assert sorted(a.status_code for a in answers) == [200, 409]
    closed_events = [t for t in _event_types(db, intent["id"]) if t.endswith("review_closed")]
    assert closed_events == ["payment_intent.review_closed"]
    refunds = db.execute(
        "SELECT count(*) FROM refunds WHERE payment_intent_id = %s", (intent["id"],)
    ).fetchone()
    winner = next(a for a in answers if a.status_code == 200).json()
    assert refunds == ((1,) if winner["closed_reason"] == "refunded" else (0,))


def test_a_review_of_an_intent_being_charged_waits(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any]
) -> None:
    _rule(api, shop, {"type": "amount_limit", "max_amount": 1000})
    intent = _intent(api, shop, pix_intent(amount=7000))
    db.execute("UPDATE payment_intents SET status = 'processing' WHERE id = %s", (intent["id"],))

    refused = httpx.post(
        f"{api.url}/v1/reviews/{intent['risk']['review']['id']}/refund", headers=shop.headers
    )
    review = httpx.get(
        f"{api.url}/v1/reviews/{intent['risk']['review']['id']}", headers=shop.headers
    )

    assert (refused.status_code, refused.json()["code"]) == (409, "payment_intent_unexpected_state")
    assert review.json()["open"] is True


def test_block_lists_apply_across_capture_methods(api: ApiProcess, shop: Merchant) -> None:
    seen = _intent(api, shop, _card("4242"))
    fingerprint = seen["risk"]["card_fingerprint"]
    _rule(api, shop, {"type": "block_list", "field": "card_fingerprint", "values": [fingerprint]})

    automatic = _intent(api, shop, _card("4242"))
    manual = _intent(api, shop, _card("4242", capture_method="manual"))
    other_card = _intent(api, shop, _card("1881", capture_method="manual"))

    assert fingerprint.startswith("cf_")
    assert [i["status"] for i in (automatic, manual, other_card)] == ["failed", "failed", "pending"]
    assert manual["last_payment_error"]["code"] == "blocked_by_risk"


def test_the_creating_clients_ip_is_listed_for_every_method(
    api: ApiProcess, shop: Merchant
) -> None:
    _rule(api, shop, {"type": "block_list", "field": "client_ip", "values": ["127.0.0.0/8"]})

    intents = [
        _intent(api, shop, pix_intent()),
        _intent(api, shop, card_intent()),
        _intent(api, shop, card_intent(capture_method="manual")),
    ]

    assert {i["risk"]["decision"] for i in intents} == {"block"}


def test_a_document_list_keeps_fingerprints_and_an_allow_list_wins(
    api: ApiProcess, shop: Merchant
) -> None:
    listed = _rule(
        api, shop, {"type": "block_list", "field": "payer_document", "values": ["529.982.247-25"]}
    )
    blocked = _intent(api, shop, pix_intent())
    other = _intent(api, shop, _pix_from(ANOTHER_CPF))
    _rule(api, shop, {"type": "allow_list", "field": "email_domain", "values": ["vip.com.br"]})
    allowed = _intent(api, shop, pix_intent(payer_email="maria@VIP.com.br"))

    assert listed["values"] == [blocked["risk"]["payer_fingerprint"]]
    assert "52998224725" not in json.dumps(listed)
    assert (blocked["status"], other["status"]) == ("failed", "pending")
    assert (allowed["status"], allowed["risk"]["decision"]) == ("pending", "allow")
    assert allowed["risk"]["reasons"][0]["action"] == "allow"


def test_a_first_payment_limit_spares_a_payer_who_paid_before(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any], database_url: str
) -> None:
    _rule(api, shop, {"type": "first_payment_limit", "max_amount": 5000, "action": "block"})

    first_big = _intent(api, shop, pix_intent(amount=9000))
    small = _intent(api, shop, pix_intent(amount=4000))
    _paid(db, database_url, small["id"])
    second_big = _intent(api, shop, pix_intent(amount=9000))

    assert first_big["risk"]["decision"] == "block"
    assert first_big["risk"]["reasons"][0]["type"] == "first_payment_limit"
    assert second_big["risk"]["decision"] == "allow"


def test_velocity_sums_slide_over_the_window_per_document(api: ApiProcess, shop: Merchant) -> None:
    _rule(
        api,
        shop,
        {
            "type": "velocity",
            "key": "payer_document",
            "window_seconds": 600,
            "max_amount": 5000,
            "action": "block",
        },
    )

    decisions = [
        _intent(api, shop, pix_intent(amount=3000))["risk"]["decision"],
        _intent(api, shop, pix_intent(amount=3000))["risk"]["decision"],  # 6000: over
        _intent(api, shop, pix_intent(amount=2000))["risk"]["decision"],  # 5000: not counted
        _intent(api, shop, _pix_from(ANOTHER_CPF, 4000))["risk"]["decision"],
    ]

    assert decisions == ["allow", "block", "allow", "allow"]


async def test_fifty_concurrent_intents_from_one_cpf_under_a_limit_of_3_let_exactly_3_through(
    api: ApiProcess, shop: Merchant
) -> None:
    _rule(
        api,
        shop,
        {
            "type": "velocity",
            "key": "payer_document",
            "method": "pix",
            "window_seconds": 600,
            "max_count": 3,
            "action": "block",
        },
    )
    async with httpx.AsyncClient(base_url=api.url, headers=shop.headers, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/payment_intents", json=pix_intent()) for _ in range(50))
        )

    assert {a.status_code for a in answers} == {201}
    statuses = [a.json()["status"] for a in answers]
    assert (statuses.count("pending"), statuses.count("failed")) == (3, 47)


def test_bad_rule_definitions_get_problems_naming_the_field(
    api: ApiProcess, shop: Merchant
) -> None:
    url = f"{api.url}/v1/risk_rules"
    cases = [
        (
            {"type": "velocity", "key": "payer_document", "window_seconds": -5, "max_count": 3},
            "window_seconds",
        ),
        (
            {"type": "block_list", "field": "payer_document", "values": ["529.982.247-25", "123"]},
            "values.1",
        ),
        ({"type": "block_list", "field": "email_domain", "values": []}, "values"),
        ({"type": "nonsense"}, "type"),
    ]
    for body, param in cases:
        response = httpx.post(url, json=body, headers=shop.headers)
        assert response.status_code == 400, body
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["param"] == param
    listed = httpx.get(url, headers=shop.headers).json()
    assert (listed["defaults"], listed["data"]) == (True, [])  # nothing was written


def test_a_deleted_rule_stops_screening(api: ApiProcess, shop: Merchant) -> None:
    rule = _rule(api, shop, {"type": "amount_limit", "max_amount": 1, "action": "block"})

    deleted = httpx.delete(f"{api.url}/v1/risk_rules/{rule['id']}", headers=shop.headers)
    missing = httpx.delete(f"{api.url}/v1/risk_rules/{rule['id']}", headers=shop.headers)
    intent = _intent(api, shop, pix_intent())

    assert deleted.json() == {"id": rule["id"], "object": "risk_rule", "deleted": True}
    assert missing.status_code == 404
    assert intent["status"] == "pending"


@pytest.fixture(scope="module")
def api_with_defaults(service_env: dict[str, str]) -> Iterator[ApiProcess]:
    with start_api({"PIXWAVE_RISK_DEFAULT_RULES": "true"}) as process:
        yield process


def test_a_merchant_starts_with_the_defaults_and_keeps_them_when_it_adds_a_rule(
    api_with_defaults: ApiProcess, shop: Merchant
) -> None:
    url = f"{api_with_defaults.url}/v1/risk_rules"
    before = httpx.get(url, headers=shop.headers).json()
    big = _intent(api_with_defaults, shop, pix_intent(amount=2_500_000))
    added = _rule(api_with_defaults, shop, {"type": "amount_limit", "max_amount": 1})
    after = httpx.get(url, headers=shop.headers).json()

    assert before["defaults"] is True
    assert {r["id"] for r in before["data"]} >= {"default_pix_amount", "default_document_velocity"}
    assert big["risk"]["decision"] == "review"
    assert {r["rule"] for r in big["risk"]["reasons"]} == {
        "default_pix_amount",
        "default_first_payment",
    }
    assert after["defaults"] is False
    assert {r["id"] for r in after["data"]} - {r["id"] for r in before["data"]} == {added["id"]}


@pytest.fixture(scope="module")
def api_without_redis(service_env: dict[str, str]) -> Iterator[ApiProcess]:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with start_api({"PIXWAVE_REDIS_URL": dead, "PIXWAVE_RATE_LIMIT_PER_SECOND": "100000"}) as api:
        yield api


def test_a_redis_outage_fails_each_velocity_rule_open_or_closed_as_it_says(
    api_without_redis: ApiProcess, shop: Merchant, db: psycopg.Connection[Any]
) -> None:
    velocity = {"type": "velocity", "window_seconds": 60, "max_count": 100, "action": "block"}
    _rule(api_without_redis, shop, velocity | {"key": "payer_document"})
    _rule(
        api_without_redis, shop, velocity | {"key": "card_fingerprint", "on_unavailable": "block"}
    )

    pix = _intent(api_without_redis, shop, pix_intent())
    card = _intent(api_without_redis, shop, _card("4242"))

    assert (pix["status"], pix["risk"]["reasons"]) == ("pending", [])
    assert card["risk"]["decision"] == "block"
    assert "unavailable" in card["risk"]["reasons"][0]["message"]
    alerts = db.execute(
        "SELECT payload FROM outbox WHERE event_type = 'alert.risk_velocity_unavailable' "
        "AND merchant_id = %s",
        (shop.merchant_id,),
    ).fetchall()
    assert len(alerts) == 1  # once per outage per process
    assert alerts[0][0]["data"]["object"]["payment_intent"] == pix["id"]


async def test_the_velocity_script_counts_only_what_passes(service_env: dict[str, str]) -> None:
    client = open_redis(service_env["PIXWAVE_REDIS_URL"])
    store = VelocityStore(client, "risktest", RedisOrMemory("risk_test"))
    rule = Velocity(
        type="velocity",
        id="r1",
        key=VelocityKey.MERCHANT,
        window_seconds=60,
        max_count=2,
        action=Action.BLOCK,
    )
    check = [VelocityCheck(rule, "mer_x")]
    key = "risktest:risk:{mer_x}:r1:mer_x"
    try:
        answers = [await store.check_and_count("mer_x", f"pi_{n}", 100, check) for n in range(4)]
        members = await client.zrange(key, 0, -1)
        expires_in_ms = await client.pttl(key)
    finally:
        await client.aclose()

    assert answers == [[False], [False], [True], [True]]
    assert sorted(members) == [b"pi_0:100", b"pi_1:100"]
    assert 0 < expires_in_ms <= 60_000  # the key goes with its window


async def test_an_unreachable_redis_answers_none_at_once() -> None:
    client = open_redis(f"redis://127.0.0.1:{free_port()}/0")
    store = VelocityStore(client, "risktest", RedisOrMemory("risk_test_down"))
    rule = Velocity(
        type="velocity", id="r1", key=VelocityKey.MERCHANT, window_seconds=60, max_count=2
    )
    try:
        first = await store.check_and_count("mer_x", "pi_1", 100, [VelocityCheck(rule, "m")])
        second = await store.check_and_count("mer_x", "pi_2", 100, [VelocityCheck(rule, "m")])
    finally:
        await client.aclose()
    assert (first, second, store.degraded) == (None, None, True)


def _pixwave(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, check=False
    )


def test_operators_write_rules_and_close_reviews_from_the_cli(
    api: ApiProcess, shop: Merchant, db: psycopg.Connection[Any], database_url: str
) -> None:
    bad = _pixwave("risk", "rules", "add", shop.merchant_id, '{"type": "amount_limit"}')
    added = _pixwave(
        "risk", "rules", "add", shop.merchant_id, '{"type": "amount_limit", "max_amount": 100}'
    )
    intent = _intent(api, shop, pix_intent())
    listed = _pixwave("reviews", "list", shop.merchant_id)
    review_id = intent["risk"]["review"]["id"]
    _paid(db, database_url, intent["id"])
    refunded = _pixwave("reviews", "refund", review_id)

    assert bad.returncode == 2
    assert "max_amount" in bad.stderr
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["max_amount"] == 100
    assert json.loads(listed.stdout)["id"] == review_id
    assert refunded.returncode == 0, refunded.stderr
    assert json.loads(refunded.stdout)["refund"].startswith("re_")
    assert _event_types(db, intent["id"])[-1] == "payment_intent.review_closed"
    rules = _pixwave("risk", "rules", "list", shop.merchant_id)
    assert [json.loads(line)["type"] for line in rules.stdout.splitlines()] == ["amount_limit"]
