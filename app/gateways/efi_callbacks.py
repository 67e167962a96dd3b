"""What Efí's webhook calls us with: the URL we register (our hmac token in it) and the
cobs and sent Pix a callback names. docs/gateways/efi.md, "Webhook"."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from app.domain.errors import CallbackRejected
from app.gateways.efi_sends import send_callbacks
from app.gateways.identifiers import EFI_KEY_SEPARATOR
from app.gateways.port import CallbackEvent, PixSendCallback


def webhook_url(url: str, token: str) -> str:
    """``url`` with our hmac token and the "ignorar=" that absorbs Efí's "/pix" suffix."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'hmac': token})}&ignorar="


def callback_entries(
    body: bytes,
) -> tuple[tuple[CallbackEvent, ...], tuple[PixSendCallback, ...]]:
    """The cobs a callback names, and the Pix we sent it names (``gnExtras.idEnvio``).
    Entries without a txid (a pix we sent, a static key payment) name no cob of ours. A
    devolução repeats its pix's endToEndId, so the key also holds the devoluções'
    states: each change is a new event, a resend is not."""
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        raise CallbackRejected("The body is not JSON.") from exc
    if not isinstance(parsed, dict):
        raise CallbackRejected("The body is not a JSON object.")
    if "pix" not in parsed:
        return (), ()  # the call made while registering the URL: {"evento": "teste_webhook"}
    try:
        entries = list(parsed["pix"])
        return tuple(_event(p) for p in entries if p.get("txid")), send_callbacks(entries)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CallbackRejected("The body is not a list of pix.") from exc


def _event(pix: dict[str, Any]) -> CallbackEvent:
    returns = sorted(f"{d['id']}={d['status']}" for d in pix.get("devolucoes") or ())
    key = EFI_KEY_SEPARATOR.join([str(pix["endToEndId"]), *returns])
    return CallbackEvent(key, str(pix["txid"]))
