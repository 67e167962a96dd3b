"""The gateways the simulator stands in for, and the URL prefix each one lives under."""

from __future__ import annotations

from enum import StrEnum


class Gateway(StrEnum):
    MERCADOPAGO = "mercadopago"
    EFI = "efi"

    @property
    def prefix(self) -> str:
        return f"/{self.value}"


def gateway_of(path: str) -> Gateway | None:
    """The gateway whose API a request path belongs to, if any."""
    for gateway in Gateway:
        if path == gateway.prefix or path.startswith(f"{gateway.prefix}/"):
            return gateway
    return None
