"""How one simulator instance behaves: secrets, where Efí callbacks go, randomness, timings."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT_HANG_SECONDS = 30.0


@dataclass(frozen=True)
class SimulatorConfig:
    mercadopago_webhook_secret: str
    # Where Efí callbacks go ("/pix" is appended, as Efí does); None sends none.
    efi_webhook_url: str | None
    # Added to efi_webhook_url as "?hmac=…&ignorar=" unless that URL already carries one.
    efi_webhook_hmac: str | None
    # Seeds the one random.Random behind every fault draw and generated id.
    seed: int | None
    callback_retry_seconds: float = 1.0
    callback_attempts: int = 5
    # How long a "timeout" fault holds the answer back after the work is done.
    timeout_hang_seconds: float = DEFAULT_TIMEOUT_HANG_SECONDS
