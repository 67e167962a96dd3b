"""Mercado Pago notifications in each documented shape: the x-signature manifest leaves
out what is absent (devsite-docs guides/additional-content/your-integrations/
webhooks.en.md: "If any of the values shown in the above template are not present in
your notification, you should remove them"; sdk-python mercadopago/webhook/validator.py),
and the payment to re-fetch is named by data.id in the query or the body."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from app.domain.errors import CallbackRejected
from app.gateways.port import CallbackEvent, IncomingCallback
from tests.unit.test_callback_verification import NOW, SECRET, mercadopago

TS = str(int(NOW.timestamp()))


def signed(manifest: str) -> str:
    digest = hmac.new(SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={TS},v1={digest}"


def callback(
    manifest: str, query: dict[str, str], body: object, **headers: str
) -> IncomingCallback:
    return IncomingCallback(
        body=json.dumps(body).encode(),
        headers={"x-signature": signed(manifest), **headers},
        query=query,
    )


def test_without_data_id_in_the_query_the_id_part_is_left_out() -> None:
    body = {"type": "payment", "action": "payment.updated", "data": {"id": "1310000001"}}
    incoming = callback(f"request-id:req-1;ts:{TS};", {}, body, **{"x-request-id": "req-1"})

    notice = mercadopago().verify_callback(incoming, NOW)

    assert notice.events == (CallbackEvent("req-1:1310000001", "1310000001"),)


def test_without_a_request_id_that_part_is_left_out() -> None:
    query = {"data.id": "1310000001", "type": "payment"}
    incoming = callback(f"id:1310000001;ts:{TS};", query, {"data": {"id": "1310000001"}})

    assert mercadopago().verify_callback(incoming, NOW).events[0].reference == "1310000001"


def test_an_alphanumeric_data_id_is_signed_in_lower_case() -> None:
    # "data.id em minúsculo" for alphanumeric ids (developers/pt/docs/checkout-api-orders/
    # notifications); the id itself is kept as sent for the re-fetch.
    query = {"data.id": "ORD01ABC", "type": "payment"}
    incoming = callback(f"id:ord01abc;request-id:r;ts:{TS};", query, {}, **{"x-request-id": "r"})

    assert mercadopago().verify_callback(incoming, NOW).events[0].reference == "ORD01ABC"


def test_an_ipn_notification_names_no_payment_it_could_prove() -> None:
    # IPN (?topic=payment&id=…) cannot be validated with the secret (devsite-docs
    # guides/additional-content/your-integrations/ipn.en.md): even signed as a webhook
    # would be, its bare `id` is not taken as the payment to act on.
    query = {"id": "1310000001", "topic": "payment"}
    incoming = callback(f"request-id:r;ts:{TS};", query, {}, **{"x-request-id": "r"})

    with pytest.raises(CallbackRejected):
        mercadopago().verify_callback(incoming, NOW)


@pytest.mark.parametrize("where", ["type", "topic"])
def test_other_topics_ask_for_nothing(where: str) -> None:
    query = {"data.id": "99", where: "merchant_order"}
    incoming = callback(f"id:99;request-id:r;ts:{TS};", query, {}, **{"x-request-id": "r"})

    assert mercadopago().verify_callback(incoming, NOW).events == ()


def test_a_signature_over_a_part_that_was_not_sent_is_refused() -> None:
    body = {"type": "payment", "data": {"id": "1310000001"}}
    # Signed as if data.id had been in the query: it was not, so the manifest differs.
    incoming = callback(f"id:1310000001;request-id:r;ts:{TS};", {}, body, **{"x-request-id": "r"})

    with pytest.raises(CallbackRejected):
        mercadopago().verify_callback(incoming, NOW)
