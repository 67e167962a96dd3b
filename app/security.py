"""API key secrets and payer-document encryption."""

from __future__ import annotations

import hashlib
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

API_KEY_PREFIX = "sk_test_"
LIVE_API_KEY_PREFIX = "sk_live_"
API_KEY_RANDOM_BYTES = 24
API_KEY_DISPLAY_CHARS = 12
_NONCE_BYTES = 12
_CIPHERTEXT_VERSION = b"\x01"


def new_api_key_secret(*, livemode: bool = False) -> str:
    prefix = LIVE_API_KEY_PREFIX if livemode else API_KEY_PREFIX
    return prefix + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)


def hash_api_key(secret: str) -> str:
    # Keys are 192 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:API_KEY_DISPLAY_CHARS]


class DocumentCipher:
    """AES-256-GCM; the merchant id is bound in as associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, *, merchant_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), merchant_id.encode())
        return _CIPHERTEXT_VERSION + nonce + sealed

    def decrypt(self, blob: bytes, *, merchant_id: str) -> str:
        if blob[:1] != _CIPHERTEXT_VERSION:
            raise ValueError(f"unknown ciphertext version {blob[:1]!r}")
        nonce = blob[1 : 1 + _NONCE_BYTES]
        sealed = blob[1 + _NONCE_BYTES :]
        return self._aead.decrypt(nonce, sealed, merchant_id.encode()).decode()
