"""The simulated Mercado Pago against what Mercado Pago documents (docs/gateways/
mercadopago.md has the source of each row), awkward parts and fault knobs included.
Each test names its source; none asserts what PixWave's adapter happens to expect."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gatewaysim.mercadopago.issuing import UNINFERABLE_TOKEN
from tests.integration.test_gateway_sim import (
    MP_AUTH,
    MP_SECRET,
    WAIT_SECONDS,
    Receiver,
    ledger,
    mp_card,
    mp_create,
    mp_date,
    mp_error_shape,
    mp_payment,
    mp_refund,
    mp_signature_ok,
    webhooks_only,
)
from tests.support import wait_for

# Its simulator (with callbacks to a local receiver), fresh for each test.
pytest_plugins = ["tests.integration.test_gateway_sim"]

REAL_TOKEN = "ff8080814c11e237014c1ff593b57b4d"  # the example token of the docs' curl
SEARCH_LAG_SECONDS = 1.0


def real_card(**overrides: Any) -> dict[str, Any]:
    """A card body as every official example sends it: token, payment_method_id, issuer_id
    (devsite-docs guides/additional-content/your-integrations/webhooks.en.md, curl)."""
    return mp_card(REAL_TOKEN, payment_method_id="visa", issuer_id=310, **overrides)


def get_payment(sim: httpx.Client, payment_id: int) -> dict[str, Any]:
    response = sim.get(f"/mercadopago/v1/payments/{payment_id}", headers=MP_AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def search(sim: httpx.Client, external_reference: str) -> list[dict[str, Any]]:
    response = sim.get(
        "/mercadopago/v1/payments/search",
        params={"external_reference": external_reference},
        headers=MP_AUTH,
    )
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def payer_event(sim: httpx.Client, payment_id: int, event: str) -> httpx.Response:
    return sim.post(f"/_sim/mercadopago/payments/{payment_id}/{event}")


def test_real_card_tokens_with_their_payment_method_are_charged(sim: httpx.Client) -> None:
    response = mp_create(sim, real_card(), "real-card")

    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["status_detail"]) == ("approved", "accredited")
    assert (payment["payment_method_id"], payment["issuer_id"]) == ("visa", "310")


def test_a_card_without_payment_method_may_not_be_inferred(sim: httpx.Client) -> None:
    # sdk-nodejs issue 179: 400 "Cannot infer Payment Method", cause 2131.
    response = mp_create(sim, mp_card(UNINFERABLE_TOKEN), "no-method")

    body = mp_error_shape(response, 400)
    assert body["message"] == "Cannot infer Payment Method"
    assert body["cause"][0]["code"] == 2131
    assert ledger(sim)["charges"] == []


def test_made_up_card_tokens_are_refused(sim: httpx.Client) -> None:
    # Card tokens are 32 hex characters (devsite-docs reference/api-json/payments.json).
    refused = mp_create(sim, mp_card("tok_test_visa_4242", payment_method_id="visa"), "made-up")
    accepted = mp_create(sim, real_card(), "real")

    assert refused.status_code == 400, refused.text
    assert accepted.status_code == 201, accepted.text


def test_date_of_expiration_takes_milliseconds_and_an_offset_only(sim: httpx.Client) -> None:
    # yyyy-MM-dd'T'HH:mm:ss.SSSz (developers/en/docs/checkout-pro/additional-settings/
    # expiration-date): Python's isoformat() microseconds are not that format.
    later = datetime.now(UTC) + timedelta(hours=1)
    micro = mp_create(sim, mp_payment(date_of_expiration=later.isoformat()), "micro")
    milli = mp_create(sim, mp_payment(date_of_expiration=mp_date(later)), "milli")

    assert mp_error_shape(micro, 400)["cause"][0]["code"] == "invalid_date_of_expiration"
    assert milli.status_code == 201, milli.text
    assert milli.json()["date_of_expiration"] == mp_date(later)


def test_a_repeated_key_returns_its_payment_and_another_body_conflicts(
    sim: httpx.Client,
) -> None:
    # The SDKs resend a request under the same X-Idempotency-Key (sdk-nodejs
    # src/utils/restClient/index.ts); 409 is an idempotency-key conflict
    # (sdk-python mercadopago/errors/exceptions.py).
    body = mp_payment()
    first = mp_create(sim, body, "same-key").json()
    again = mp_create(sim, body, "same-key")
    other = mp_create(sim, mp_payment(transaction_amount=20), "same-key")

    assert again.json()["id"] == first["id"]
    assert mp_error_shape(other, 409)["error"] == "idempotency_conflict"
    assert [c["create_requests"] for c in ledger(sim)["charges"]] == [2]


def test_search_lags_behind_a_read_by_id(sim: httpx.Client) -> None:
    # sdk-nodejs issue 180: a search by external_reference missed new payments that a
    # search by id found.
    sim.put("/_sim/faults/mercadopago", json={"search_lag_seconds": SEARCH_LAG_SECONDS})
    payment = mp_create(sim, mp_payment(external_reference="pi_lag"), "lag").json()

    assert search(sim, "pi_lag") == []
    assert get_payment(sim, payment["id"])["id"] == payment["id"]
    wait_for(lambda: len(search(sim, "pi_lag")) == 1, timeout=WAIT_SECONDS)


def test_423_does_nothing_and_424_answers_after_the_work(sim: httpx.Client) -> None:
    # 423 "idempotency key temporarily locked (retryable)", 424 "internal dependency
    # failure (retryable)": sdk-python mercadopago/errors/exceptions.py.
    body = mp_payment()
    sim.put("/_sim/faults/mercadopago", json={"locked_rate": 1.0})
    assert mp_error_shape(mp_create(sim, body, "locked"), 423)
    assert ledger(sim)["charges"] == []

    sim.put("/_sim/faults/mercadopago", json={"locked_rate": 0.0, "dependency_failure_rate": 1.0})
    assert mp_error_shape(mp_create(sim, body, "locked"), 424)
    sim.delete("/_sim/faults")
    repeat = mp_create(sim, body, "locked")

    assert repeat.status_code == 201, repeat.text
    assert [c["create_requests"] for c in ledger(sim)["charges"]] == [2]


def test_conflict_rate_answers_409_before_any_work(sim: httpx.Client) -> None:
    sim.put("/_sim/faults/mercadopago", json={"conflict_rate": 1.0})

    assert mp_error_shape(mp_create(sim, mp_payment(), "conflict"), 409)
    assert ledger(sim)["charges"] == []


def test_an_unpaid_pix_is_cancelled_expired_at_its_date(
    sim: httpx.Client, receiver: Receiver
) -> None:
    # status cancelled = "canceled by one of the parties or expired"; status_detail expired
    # (developers/en/docs/checkout-api-payments/response-handling/query-results).
    url = webhooks_only(f"{receiver.url}/mp-expiry")
    soon = mp_date(datetime.now(UTC) + timedelta(seconds=1))
    lapsing = mp_create(sim, mp_payment(date_of_expiration=soon, notification_url=url), "a")
    forced = mp_create(sim, mp_payment(notification_url=url), "b").json()

    expired = payer_event(sim, forced["id"], "expire").json()
    assert (expired["status"], expired["status_detail"]) == ("cancelled", "expired")
    wait_for(
        lambda: get_payment(sim, lapsing.json()["id"])["status_detail"] == "expired",
        timeout=WAIT_SECONDS,
    )
    paid = sim.post(f"/_sim/pay/mercadopago/{forced['id']}")
    assert mp_error_shape(paid, 400)["cause"][0]["code"] == "payment_expired"
    wait_for(lambda: len(receiver.under("/mp-expiry")) == 4, timeout=WAIT_SECONDS)
    actions = sorted(r.json()["action"] for r in receiver.under("/mp-expiry"))
    assert actions == ["payment.created"] * 2 + ["payment.updated"] * 2


def test_claims_and_chargebacks_reach_taken_money_only(
    sim: httpx.Client, receiver: Receiver
) -> None:
    # in_mediation: "the user started a dispute"; charged_back: "a chargeback was placed
    # on the buyer's credit card" (the same query-results page).
    url = webhooks_only(f"{receiver.url}/mp-dispute")
    card = mp_create(sim, real_card(notification_url=url), "disputed").json()
    pix = mp_create(sim, mp_payment(), "unpaid").json()

    disputed = payer_event(sim, card["id"], "dispute").json()
    charged_back = payer_event(sim, card["id"], "chargeback").json()

    assert disputed["status"] == "in_mediation"
    assert (charged_back["status"], charged_back["status_detail"]) == ("charged_back", "settled")
    assert get_payment(sim, card["id"])["status"] == "charged_back"
    assert mp_error_shape(payer_event(sim, pix["id"], "dispute"), 400)
    wait_for(lambda: len(receiver.under("/mp-dispute")) == 3, timeout=WAIT_SECONDS)
    for callback in receiver.under("/mp-dispute"):
        assert callback.query["data.id"] == [str(card["id"])]
        assert callback.query["type"] == ["payment"]
        assert callback.json()["data"] == {"id": str(card["id"])}
        assert mp_signature_ok(callback, MP_SECRET)


def test_refunds_in_process_settle_and_rejected_ones_return_nothing(
    sim: httpx.Client,
) -> None:
    # Refund status: "approved", "in_process", ... (sdk-nodejs src/clients/paymentRefund/
    # commonTypes.ts); a refund is read with GET /v1/payments/{id}/refunds/{refund_id}
    # (sdk-nodejs src/clients/paymentRefund/get).
    payment = mp_create(sim, real_card(), "refunded").json()
    sim.put("/_sim/faults/mercadopago", json={"refund_status": "rejected"})
    rejected = mp_refund(sim, payment["id"], "r-rejected", {"amount": 10}).json()
    sim.put("/_sim/faults/mercadopago", json={"refund_status": "in_process"})
    pending = mp_refund(sim, payment["id"], "r-pending", {"amount": 50}).json()

    assert (rejected["status"], pending["status"]) == ("rejected", "in_process")
    read = sim.get(
        f"/mercadopago/v1/payments/{payment['id']}/refunds/{pending['id']}", headers=MP_AUTH
    )
    assert read.json()["status"] == "approved"
    fetched = get_payment(sim, payment["id"])
    assert (fetched["status"], fetched["transaction_amount_refunded"]) == ("refunded", 50)
    again = mp_refund(sim, payment["id"], "r-pending", {"amount": 50}).json()
    assert again["id"] == pending["id"]


def test_without_source_news_webhooks_an_unverifiable_ipn_twin_follows(
    sim: httpx.Client, receiver: Receiver
) -> None:
    # IPN: "?topic=payment&id=…"; "despite receiving the x-Signature header, they do not
    # allow validation through the secret key" (devsite-docs guides/additional-content/
    # your-integrations/ipn.en.md); source_news=webhooks turns them off.
    payment = mp_create(sim, mp_payment(notification_url=f"{receiver.url}/both"), "both").json()

    wait_for(lambda: len(receiver.under("/both")) == 2, timeout=WAIT_SECONDS)
    [ipn] = [r for r in receiver.under("/both") if "topic" in r.query]
    [webhook] = [r for r in receiver.under("/both") if "data.id" in r.query]
    assert ipn.query == {"topic": ["payment"], "id": [str(payment["id"])]}
    assert mp_signature_ok(webhook, MP_SECRET)
    parts = dict(p.split("=", 1) for p in ipn.headers["x-signature"].split(","))
    manifest = f"id:{payment['id']};request-id:{ipn.headers['x-request-id']};ts:{parts['ts']};"
    expected = hmac.new(MP_SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    assert parts["v1"] != expected
