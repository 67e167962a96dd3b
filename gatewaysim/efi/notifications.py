"""Efí's webhook: the registration call, and received pix and devoluções POSTed to the
registered URL with "/pix" appended (efipay/documentacao-tecnica-efi
docs/APIPix/Webhooks/index.html; efipay/mtls-webhook README.md for "?ignorar=")."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from loguru import logger

from gatewaysim.callbacks import Callback, CallbackSender
from gatewaysim.config import SimulatorConfig
from gatewaysim.efi.cobs import Devolucao, Pix
from gatewaysim.efi.wire import pix_callback_json, pix_sent_callback_json, webhook_invalid
from gatewaysim.faults import FaultBoard
from gatewaysim.gateways import Gateway

if TYPE_CHECKING:
    from gatewaysim.efi.sends import SentPix

# Efí appends this to the registered URL string as is, query string or not.
PIX_SUFFIX = "/pix"
# What Efí POSTs to a URL being registered. No official source shows the body; public
# integrations answer this one (see docs/gateways/efi.md).
REGISTRATION_BODY = {"evento": "teste_webhook"}
JSON_HEADERS = {"Content-Type": "application/json"}


def registered_url(config: SimulatorConfig) -> str | None:
    """The webhook URL as a PixWave operator registers it: with the hmac token and the
    "ignorar" parameter that absorbs Efí's "/pix" suffix."""
    url, token = config.efi_webhook_url, config.efi_webhook_hmac
    if url is None or token is None or "hmac=" in url:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'hmac': token, 'ignorar': ''})}"


class EfiNotifier:
    """``url`` is where callbacks go until `PUT /v2/webhook/:chave` registers another
    URL for a key (one URL per key)."""

    def __init__(self, sender: CallbackSender, faults: FaultBoard, url: str | None) -> None:
        self._sender = sender
        self._faults = faults
        self._url = url
        self._registered: dict[str, tuple[str, datetime]] = {}

    async def register(self, chave: str, url: str) -> None:
        """Call ``url`` as Efí does, and take it only if it answered 2xx."""
        probe = Callback(Gateway.EFI, url, JSON_HEADERS, json.dumps(REGISTRATION_BODY).encode())
        status = await self._sender.call_once(probe)
        if status is None:
            raise webhook_invalid("A URL informada está inacessível")
        if not 200 <= status < 300:
            raise webhook_invalid(f"A URL informada respondeu com o código HTTP {status}")
        self._registered[chave] = (url, datetime.now(UTC))
        logger.info("sim.webhook_registered", gateway=Gateway.EFI, chave=chave, url=url)

    def webhook(self, chave: str) -> tuple[str, datetime] | None:
        return self._registered.get(chave)

    def clear(self) -> None:
        """Forget registered URLs: callbacks go to the configured URL again."""
        self._registered.clear()

    def notify(self, paid: Sequence[Pix]) -> None:
        """One callback listing every pix in ``paid``."""
        self._send(paid[0].chave, [pix_callback_json(pix) for pix in paid], _txids(paid))

    def notify_returned(self, pix: Pix, devolucao: Devolucao) -> None:
        """A devolução settled: its pix again, with the devolução."""
        self._send(pix.chave, [pix_callback_json(pix, [devolucao])], _txids([pix]))

    def notify_sent(self, send: SentPix) -> None:
        """A Pix the account sent settled: to the payer key's webhook, naming no cob;
        a resend by its idEnvio replays it."""
        self._send(send.payer_key, [pix_sent_callback_json(send)], [send.id_envio])

    def resend(self, txid: str, index: int | None = None) -> None:
        """The last callback about ``txid`` again, or its ``index``-th (out of order)."""
        if index is None:
            callback = self._sender.last(Gateway.EFI, txid)
        else:
            callback = self._sender.nth(Gateway.EFI, txid, index)
        self._sender.send(callback, references=())

    def _send(self, chave: str, entries: list[dict[str, Any]], references: list[str]) -> None:
        registered = self._registered.get(chave)
        url = registered[0] if registered else self._url
        if url is None:
            logger.info("sim.callback_skipped", gateway=Gateway.EFI, reason="no webhook url")
            return
        body = json.dumps({"pix": entries}).encode()
        callback = Callback(Gateway.EFI, url + PIX_SUFFIX, JSON_HEADERS, body)
        self._sender.send(callback, references)
        if self._faults.duplicates_callback(Gateway.EFI):
            self._sender.send(callback, references=())


def _txids(paid: Sequence[Pix]) -> list[str]:
    return [pix.txid for pix in paid]
