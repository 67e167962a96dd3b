"""The gateway simulator as a real process, and adapters pointed at it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.embedded import free_port
from app.gateways.registry import Gateways, open_gateways
from app.settings import Settings
from tests.support import start_role

MP_WEBHOOK_SECRET = "test-mp-secret"
EFI_HMAC = "test-efi-hmac"
EFI_PIX_KEY = "pixwave@example.com"


@dataclass(frozen=True)
class Simulator:
    url: str
    tls: ssl.SSLContext | None = None

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url, verify = f"{self.url}/_sim{path}", self.tls or True
        response = httpx.request(method, url, timeout=10.0, verify=verify, **kwargs)
        response.raise_for_status()
        return response

    def ledger(self) -> dict[str, Any]:
        ledger: dict[str, Any] = self.admin("GET", "/ledger").json()
        return ledger

    def faults(self, gateway: str, **faults: Any) -> None:
        self.admin("PUT", f"/faults/{gateway}", json=faults)

    def gateway_settings(self, **overrides: Any) -> Settings:
        """Settings that point both adapters at this simulator."""
        values: dict[str, Any] = {
            "mercadopago_base_url": f"{self.url}/mercadopago",
            "mercadopago_access_token": "TEST-sim-token",
            "mercadopago_webhook_secret": MP_WEBHOOK_SECRET,
            "efi_base_url": f"{self.url}/efi",
            "efi_client_id": "Client_Id_sim",
            "efi_client_secret": "Client_Secret_sim",
            "efi_pix_key": EFI_PIX_KEY,
            "efi_webhook_hmac": EFI_HMAC,
            **overrides,
        }
        return Settings(**values)

    def gateway_env(self) -> dict[str, str]:
        """The same, as PIXWAVE_* variables for a role process."""
        settings = self.gateway_settings()
        names = (
            "mercadopago_base_url",
            "mercadopago_access_token",
            "mercadopago_webhook_secret",
            "efi_base_url",
            "efi_client_id",
            "efi_client_secret",
            "efi_pix_key",
            "efi_webhook_hmac",
        )
        return {f"PIXWAVE_{name.upper()}": _plain(getattr(settings, name)) for name in names}

    def open_gateways(self, **overrides: Any) -> Gateways:
        return open_gateways(self.gateway_settings(**overrides))


def _plain(value: Any) -> str:
    return str(value.get_secret_value() if hasattr(value, "get_secret_value") else value)


@contextmanager
def running_simulator(
    *,
    efi_webhook_url: str | None = None,
    extra_args: tuple[str, ...] = (),
    tls: ssl.SSLContext | None = None,
) -> Iterator[Simulator]:
    """``tls``: the simulator serves HTTPS (pass --tls-cert in ``extra_args``) and this
    context, holding a client certificate if it demands one, probes readiness."""
    port = free_port()
    args = ["gateway-sim", "--port", str(port), "--seed", "7", *extra_args]
    if efi_webhook_url is not None:
        args += ["--efi-webhook-url", efi_webhook_url]
    env = {
        "PIXWAVE_MERCADOPAGO_WEBHOOK_SECRET": MP_WEBHOOK_SECRET,
        "PIXWAVE_EFI_WEBHOOK_HMAC": EFI_HMAC,
    }
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    with start_role(args, env, f"{url}/_sim/faults", tls=tls):
        yield Simulator(url, tls)
