"""Efí's webhook: received pix, POSTed to the registered URL with "/pix" appended."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlencode

from loguru import logger

from gatewaysim.callbacks import Callback, CallbackSender
from gatewaysim.config import SimulatorConfig
from gatewaysim.efi.cobs import Pix
from gatewaysim.efi.wire import pix_callback_json
from gatewaysim.gateways import Gateway

# Efí appends this to the registered URL string as is, query string or not.
PIX_SUFFIX = "/pix"


def registered_url(config: SimulatorConfig) -> str | None:
    """The webhook URL as a PixWave operator registers it: with the hmac token and the
    "ignorar" parameter that absorbs Efí's "/pix" suffix."""
    url, token = config.efi_webhook_url, config.efi_webhook_hmac
    if url is None or token is None or "hmac=" in url:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'hmac': token, 'ignorar': ''})}"


class EfiNotifier:
    def __init__(self, sender: CallbackSender, url: str | None) -> None:
        self._sender = sender
        self._url = url

    def notify(self, paid: Sequence[Pix]) -> None:
        """One callback listing every pix in ``paid``."""
        if self._url is None:
            logger.info("sim.callback_skipped", gateway=Gateway.EFI, reason="no webhook url")
            return
        body = json.dumps({"pix": [pix_callback_json(pix) for pix in paid]}).encode()
        headers = {"Content-Type": "application/json"}
        callback = Callback(Gateway.EFI, self._url + PIX_SUFFIX, headers, body)
        self._sender.send(callback, [pix.txid for pix in paid])

    def resend(self, txid: str) -> None:
        self._sender.send(self._sender.last(Gateway.EFI, txid), references=())
