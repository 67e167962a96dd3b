"""Payer-document encryption and API key secrets."""

from __future__ import annotations

import string

import pytest
from cryptography.exceptions import InvalidTag

from app.security import (
    API_KEY_PREFIX,
    DocumentCipher,
    display_prefix,
    hash_api_key,
    new_api_key_secret,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
MERCHANT = "mer_01JD0000000000000000000000"
OTHER_MERCHANT = "mer_01JD0000000000000000000001"
URLSAFE = set(string.ascii_letters + string.digits + "-_")


@pytest.mark.parametrize("plaintext", ["52998224725", "11222333000181", "", "José Conceição"])
def test_round_trip(plaintext: str) -> None:
    cipher = DocumentCipher(KEY)
    blob = cipher.encrypt(plaintext, merchant_id=MERCHANT)
    assert cipher.decrypt(blob, merchant_id=MERCHANT) == plaintext


def test_round_trip_with_a_fresh_cipher_on_the_same_key() -> None:
    blob = DocumentCipher(KEY).encrypt("52998224725", merchant_id=MERCHANT)
    assert DocumentCipher(KEY).decrypt(blob, merchant_id=MERCHANT) == "52998224725"


def test_blob_layout_and_no_plaintext() -> None:
    plaintext = "52998224725"
    blob = DocumentCipher(KEY).encrypt(plaintext, merchant_id=MERCHANT)
    assert blob[:1] == b"\x01"  # version
    assert len(blob) == 1 + 12 + len(plaintext) + 16  # version, nonce, ciphertext, GCM tag
    assert plaintext.encode() not in blob


def test_each_encryption_uses_a_fresh_nonce() -> None:
    cipher = DocumentCipher(KEY)
    first = cipher.encrypt("52998224725", merchant_id=MERCHANT)
    second = cipher.encrypt("52998224725", merchant_id=MERCHANT)
    assert first != second
    assert first[1:13] != second[1:13]
    assert cipher.decrypt(first, merchant_id=MERCHANT) == cipher.decrypt(
        second, merchant_id=MERCHANT
    )


def test_wrong_merchant_id_fails_to_decrypt() -> None:
    cipher = DocumentCipher(KEY)
    blob = cipher.encrypt("52998224725", merchant_id=MERCHANT)
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, merchant_id=OTHER_MERCHANT)


def test_wrong_key_fails_to_decrypt() -> None:
    blob = DocumentCipher(KEY).encrypt("52998224725", merchant_id=MERCHANT)
    with pytest.raises(InvalidTag):
        DocumentCipher(OTHER_KEY).decrypt(blob, merchant_id=MERCHANT)


@pytest.mark.parametrize("position", [1, 12, 13, -1])
def test_tampered_blob_fails_to_decrypt(position: int) -> None:
    cipher = DocumentCipher(KEY)
    blob = bytearray(cipher.encrypt("52998224725", merchant_id=MERCHANT))
    blob[position] ^= 0x01
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(blob), merchant_id=MERCHANT)


def test_new_api_key_secret_shape() -> None:
    secret = new_api_key_secret()
    assert secret.startswith(API_KEY_PREFIX)
    assert API_KEY_PREFIX == "sk_test_"
    body = secret[len(API_KEY_PREFIX) :]
    assert len(body) == 32  # 24 random bytes, base64url
    assert set(body) <= URLSAFE


def test_new_api_key_secrets_differ() -> None:
    secrets = {new_api_key_secret() for _ in range(100)}
    assert len(secrets) == 100


def test_hash_api_key_known_vector() -> None:
    assert hash_api_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hash_api_key_is_stable_hex_and_hides_the_secret() -> None:
    secret = new_api_key_secret()
    digest = hash_api_key(secret)
    assert digest == hash_api_key(secret)
    assert len(digest) == 64
    assert set(digest) <= set(string.hexdigits.lower())
    assert secret not in digest
    assert hash_api_key(new_api_key_secret()) != digest


def test_display_prefix() -> None:
    secret = new_api_key_secret()
    shown = display_prefix(secret)
    assert len(shown) == 12
    assert secret.startswith(shown)
    assert shown.startswith(API_KEY_PREFIX)
    # Only 4 of the 32 random characters are shown.
    assert len(shown) - len(API_KEY_PREFIX) == 4
    assert display_prefix("sk_test_abcdefghijkl") == "sk_test_abcd"


def test_an_unknown_ciphertext_version_is_refused() -> None:
    cipher = DocumentCipher(KEY)
    blob = cipher.encrypt("52998224725", merchant_id=MERCHANT)
    with pytest.raises(ValueError, match="version"):
        cipher.decrypt(b"\x02" + blob[1:], merchant_id=MERCHANT)
