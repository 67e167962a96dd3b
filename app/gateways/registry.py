"""The gateways this deployment is configured for, each with its own HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.domain.errors import RetryLater
from app.gateways.efi import Efi
from app.gateways.mercadopago import MercadoPago
from app.gateways.port import Gateway, GatewayName
from app.settings import Settings
from app.tracing import send_traceparent

# Connecting is quick or the gateway is down: fail fast and fall back.
CONNECT_TIMEOUT_SECONDS = 3.0


@dataclass
class Gateways:
    by_name: dict[GatewayName, Gateway] = field(default_factory=dict)
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def add(self, gateway: Gateway, client: httpx.AsyncClient) -> None:
        self.by_name[gateway.name] = gateway
        self.clients.append(client)

    def get(self, name: GatewayName) -> Gateway | None:
        return self.by_name.get(name)

    def require(self, name: str) -> Gateway:
        """The gateway an earlier call went to; if it is not configured here (any more),
        the work waits for a process that has it."""
        gateway = self.by_name.get(GatewayName(name))
        if gateway is None:
            raise RetryLater(f"gateway {name} is not configured in this process")
        return gateway

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def open_gateways(settings: Settings) -> Gateways:
    """Every gateway whose credentials are set; the others are simply absent."""
    gateways = Gateways()
    token, secret = settings.mercadopago_access_token, settings.mercadopago_webhook_secret
    if token is not None and secret is not None:
        client = _client(settings, settings.mercadopago_base_url)
        mercadopago = MercadoPago(
            client,
            access_token=token.get_secret_value(),
            webhook_secret=secret.get_secret_value(),
            tolerance_seconds=settings.callback_tolerance_seconds,
        )
        gateways.add(mercadopago, client)
    efi_secret, hmac_token = settings.efi_client_secret, settings.efi_webhook_hmac
    if settings.efi_client_id and efi_secret and settings.efi_pix_key and hmac_token:
        client = _client(settings, settings.efi_base_url, cert=settings.efi_certificate_path)
        efi = Efi(
            client,
            client_id=settings.efi_client_id,
            client_secret=efi_secret.get_secret_value(),
            pix_key=settings.efi_pix_key,
            webhook_hmac=hmac_token.get_secret_value(),
        )
        gateways.add(efi, client)
    return gateways


def _client(settings: Settings, base_url: str, *, cert: Path | None = None) -> httpx.AsyncClient:
    """``cert``: a PEM with the client certificate and key this client presents (mTLS)."""
    timeout = httpx.Timeout(settings.gateway_timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS)
    tls = httpx.create_ssl_context()  # certifi, or SSL_CERT_FILE when set
    if cert is not None:
        tls.load_cert_chain(cert)
    # Every gateway call carries the W3C trace of the work that makes it.
    hooks = {"request": [send_traceparent]}
    return httpx.AsyncClient(base_url=base_url, timeout=timeout, verify=tls, event_hooks=hooks)
