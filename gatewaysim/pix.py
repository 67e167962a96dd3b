"""PIX copia-e-cola payloads for the simulated gateways' charges."""

from __future__ import annotations

from app.gateways import brcode

MERCHANT_NAME = "PIXWAVE SIMULADOR"
MERCHANT_CITY = "SAO PAULO"


def dynamic_code(location_url: str, amount_cents: int) -> str:
    """A single-use dynamic BR Code: the payer's bank fetches the charge at ``location_url``."""
    code = brcode.BrCode(
        pix_key=None,
        location_url=location_url,
        merchant_name=MERCHANT_NAME,
        merchant_city=MERCHANT_CITY,
        amount_cents=amount_cents,
        txid=None,  # a dynamic code carries "***": the txid lives at the location
        single_use=True,
    )
    return brcode.build(code)
