"""Keyed fingerprints of payers, so rules can count and list them without PixWave
keeping (or Redis ever seeing) a document or card detail.

A document's fingerprint is an HMAC-SHA256 of the bare CPF/CNPJ under a key derived
from the document key: stable across intents, not reversible without that key.

A card arrives as a gateway token, and Mercado Pago's tokens are single-use, so the
token says nothing about the card across payments. What the payer's card form knows and
may send beside the token is the brand (``payment_method_id``), the issuer and the last
four digits (``card.last4``, Mercado Pago's token answer ``last_four_digits``); the
fingerprint is an HMAC of those three. Without ``last4`` an intent has no card
fingerprint, and card rules pass over it. Two cards of one brand and issuer ending in
the same four digits share a fingerprint: card velocity may count a stranger's card
with the payer's (1 in 10,000 within a brand and issuer), never miss the payer's own.
"""

from __future__ import annotations

import hashlib
import hmac

_FINGERPRINT_HEX_CHARS = 24


class Fingerprints:
    def __init__(self, document_key: bytes) -> None:
        self._key = hmac.new(document_key, b"pixwave risk fingerprints", hashlib.sha256).digest()

    def _of(self, prefix: str, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()
        return f"{prefix}_{digest[:_FINGERPRINT_HEX_CHARS]}"

    def document(self, bare_number: str) -> str:
        return self._of("pd", bare_number)

    def card(self, brand: str | None, issuer: str | None, last4: str | None) -> str | None:
        if last4 is None:
            return None
        return self._of("cf", f"{brand or ''}|{issuer or ''}|{last4}")
