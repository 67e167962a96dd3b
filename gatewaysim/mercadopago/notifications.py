"""Mercado Pago's signed payment notifications, sent to the payment's notification_url."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
import json
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import parse_qs, urlencode, urlsplit

from gatewaysim.callbacks import Callback, CallbackSender
from gatewaysim.gateways import Gateway
from gatewaysim.mercadopago.payments import Payment
from gatewaysim.mercadopago.wire import timestamp

USER_ID = "1999999"
# Signs `bad_signature` resends: anything but the configured secret.
WRONG_SECRET = b"not-the-webhook-secret"
# IPN notifications carry an x-signature that the secret cannot validate (devsite-docs
# guides/additional-content/your-integrations/ipn.en.md); here it is signed with this.
IPN_SECRET = b"ipn-signatures-do-not-validate"
# A notification_url asking for Webhooks only (the same page and webhooks.en.md).
WEBHOOKS_ONLY = ("source_news", "webhooks")


class Action(StrEnum):
    CREATED = "payment.created"
    UPDATED = "payment.updated"


def signature(secret: bytes, data_id: str, request_id: str, ts: int) -> str:
    """The x-signature header: ts and the HMAC-SHA256 of Mercado Pago's manifest."""
    manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
    digest = hmac.new(secret, manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


class MercadoPagoNotifier:
    def __init__(self, sender: CallbackSender, secret: str) -> None:
        self._sender = sender
        self._secret = secret.encode()
        self._ids = itertools.count(1)

    def notify(self, payment: Payment, action: Action) -> None:
        """Tell the payment's notification_url (if any) that it changed."""
        if payment.notification_url is None:
            return
        data_id, request_id = str(payment.id), str(uuid.uuid4())
        headers = {
            "x-request-id": request_id,
            "x-signature": signature(self._secret, data_id, request_id, int(time.time())),
            "Content-Type": "application/json",
        }
        url = _with_query(payment.notification_url, {"data.id": data_id, "type": "payment"})
        body = json.dumps(self._body(data_id, action)).encode()
        self._sender.send(Callback(Gateway.MERCADOPAGO, url, headers, body), [data_id])
        if not _webhooks_only(payment.notification_url):
            self._send_ipn(payment.notification_url, data_id)

    def _send_ipn(self, notification_url: str, data_id: str) -> None:
        """The IPN twin of a notification: ``?topic=payment&id=…``, not verifiable."""
        request_id = str(uuid.uuid4())
        headers = {
            "x-request-id": request_id,
            "x-signature": signature(IPN_SECRET, data_id, request_id, int(time.time())),
        }
        url = _with_query(notification_url, {"topic": "payment", "id": data_id})
        self._sender.send(Callback(Gateway.MERCADOPAGO, url, headers, b""), references=())

    def resend(self, reference: str, *, stale_seconds: int, bad_signature: bool) -> None:
        """Replay the last notification of a payment byte for byte, or re-signed with an
        old timestamp or the wrong secret."""
        last = self._sender.last(Gateway.MERCADOPAGO, reference)
        if stale_seconds or bad_signature:
            secret = WRONG_SECRET if bad_signature else self._secret
            ts = int(time.time()) - stale_seconds
            signed = signature(secret, reference, last.headers["x-request-id"], ts)
            last = dataclasses.replace(last, headers={**last.headers, "x-signature": signed})
        self._sender.send(last, references=())  # the original stays the one to replay

    def _body(self, data_id: str, action: Action) -> dict[str, object]:
        return {
            "id": next(self._ids),
            "live_mode": False,
            "type": "payment",
            "date_created": timestamp(datetime.now(UTC)),
            "user_id": USER_ID,
            "api_version": "v1",
            "action": action,
            "data": {"id": data_id},
        }


def _with_query(url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params)}"


def _webhooks_only(url: str) -> bool:
    name, value = WEBHOOKS_ONLY
    return value in parse_qs(urlsplit(url).query).get(name, [])
