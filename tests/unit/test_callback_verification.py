"""Gateway callbacks are verified before anything is believed: signature, token, age."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.domain.errors import CallbackRejected
from app.gateways.efi import Efi
from app.gateways.mercadopago import MercadoPago
from app.gateways.port import CallbackEvent, IncomingCallback

SECRET = "mp-webhook-secret"
HMAC_TOKEN = "efi-hmac-token"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOLERANCE_SECONDS = 300


def mercadopago() -> MercadoPago:
    # The client is never used: verification is pure.
    return MercadoPago(
        httpx.AsyncClient(),
        access_token="token",
        webhook_secret=SECRET,
        tolerance_seconds=TOLERANCE_SECONDS,
    )


def efi() -> Efi:
    return Efi(
        httpx.AsyncClient(),
        client_id="id",
        client_secret="secret",
        pix_key="chave",
        webhook_hmac=HMAC_TOKEN,
    )


def mp_callback(
    payment_id: str = "1310000001",
    *,
    ts: int | None = None,
    secret: str = SECRET,
    request_id: str = "req-1",
) -> IncomingCallback:
    ts = int(NOW.timestamp()) if ts is None else ts
    manifest = f"id:{payment_id};request-id:{request_id};ts:{ts};"
    v1 = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    body = {"id": 42, "type": "payment", "action": "payment.updated", "data": {"id": payment_id}}
    return IncomingCallback(
        body=json.dumps(body).encode(),
        headers={"x-signature": f"ts={ts},v1={v1}", "x-request-id": request_id},
        query={"data.id": payment_id, "type": "payment"},
    )


def test_a_signed_mercadopago_notification_names_the_payment_to_fetch() -> None:
    notice = mercadopago().verify_callback(mp_callback(), NOW)
    assert notice.events == (CallbackEvent("req-1:1310000001", "1310000001"),)


def test_a_millisecond_timestamp_is_read_as_such() -> None:
    callback = mp_callback(ts=int(NOW.timestamp() * 1000))
    assert mercadopago().verify_callback(callback, NOW).events


@pytest.mark.parametrize(
    "callback",
    [
        mp_callback(secret="someone-else"),
        mp_callback(ts=int((NOW - timedelta(seconds=TOLERANCE_SECONDS + 1)).timestamp())),
        mp_callback(ts=int((NOW + timedelta(seconds=TOLERANCE_SECONDS + 1)).timestamp())),
        IncomingCallback(b"{}", {"x-request-id": "r"}, {"data.id": "1"}),
        IncomingCallback(b"{}", {"x-signature": "v1=abc"}, {"data.id": "1"}),
    ],
    ids=["forged", "stale", "from-the-future", "unsigned", "no-timestamp"],
)
def test_forged_stale_or_unsigned_notifications_are_rejected(callback: IncomingCallback) -> None:
    with pytest.raises(CallbackRejected):
        mercadopago().verify_callback(callback, NOW)


def test_a_signature_for_another_payment_does_not_verify() -> None:
    signed = mp_callback("1310000001")
    tampered = IncomingCallback(signed.body, signed.headers, {**signed.query, "data.id": "999"})
    with pytest.raises(CallbackRejected):
        mercadopago().verify_callback(tampered, NOW)


def test_notifications_about_other_topics_name_nothing_to_fetch() -> None:
    signed = mp_callback()
    other = IncomingCallback(signed.body, signed.headers, {**signed.query, "type": "plan"})
    assert mercadopago().verify_callback(other, NOW).events == ()


def efi_callback(token: str = HMAC_TOKEN, body: object = None) -> IncomingCallback:
    pix = [
        {"endToEndId": "E1", "txid": "a" * 32, "valor": "19.90", "horario": NOW.isoformat()},
        {"endToEndId": "E2", "txid": "b" * 32, "valor": "5.00", "horario": NOW.isoformat()},
    ]
    payload = json.dumps({"pix": pix} if body is None else body).encode()
    return IncomingCallback(payload, {}, {"hmac": token, "ignorar": "/pix"})


def test_an_efi_batch_names_every_pix_by_its_end_to_end_id() -> None:
    notice = efi().verify_callback(efi_callback(), NOW)
    assert notice.events == (CallbackEvent("E1", "a" * 32), CallbackEvent("E2", "b" * 32))


@pytest.mark.parametrize(
    "callback",
    [
        efi_callback(token="guess"),
        efi_callback(token=""),
        efi_callback(body={"pix": {"txid": "a" * 32}}),
        efi_callback(body=[{"txid": "a" * 32}]),
    ],
    ids=["wrong-token", "no-token", "pix-not-a-list", "not-an-object"],
)
def test_efi_callbacks_without_the_token_or_pix_are_rejected(callback: IncomingCallback) -> None:
    with pytest.raises(CallbackRejected):
        efi().verify_callback(callback, NOW)
