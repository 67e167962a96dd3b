"""Business rules on merchant input, each failing with a stable code and param."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.errors import InvalidRequest

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_CHARS = 40
MAX_METADATA_VALUE_CHARS = 500
PIX_MIN_EXPIRES_IN_SECONDS = 60
PIX_MAX_EXPIRES_IN_SECONDS = 30 * 24 * 3600
_PAN_LENGTHS = range(12, 20)


def check_amount(amount: int, *, maximum: int, param: str = "amount") -> int:
    if amount <= 0:
        raise InvalidRequest(
            "Amount must be a positive integer of minor units.",
            param=param,
            code="amount_too_small",
        )
    if amount > maximum:
        raise InvalidRequest(
            f"Amount must be at most {maximum} minor units.", param=param, code="amount_too_large"
        )
    return amount


def check_metadata(metadata: Mapping[str, str]) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"Metadata may have at most {MAX_METADATA_KEYS} keys.",
            param="metadata",
            code="metadata_too_many_keys",
        )
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY_CHARS:
            raise InvalidRequest(
                f"Metadata keys must have 1 to {MAX_METADATA_KEY_CHARS} characters.",
                param=f"metadata.{key[:MAX_METADATA_KEY_CHARS]}",
                code="metadata_key_invalid",
            )
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise InvalidRequest(
                f"Metadata values may have at most {MAX_METADATA_VALUE_CHARS} characters.",
                param=f"metadata.{key}",
                code="metadata_value_too_long",
            )


def check_pix_expiry(expires_in: int) -> int:
    if not PIX_MIN_EXPIRES_IN_SECONDS <= expires_in <= PIX_MAX_EXPIRES_IN_SECONDS:
        raise InvalidRequest(
            f"expires_in must be between {PIX_MIN_EXPIRES_IN_SECONDS} and "
            f"{PIX_MAX_EXPIRES_IN_SECONDS} seconds.",
            param="expires_in",
        )
    return expires_in


def check_card_token(token: str) -> str:
    """Refuse anything that looks like a raw card number: PixWave never holds PANs."""
    digits = token.replace(" ", "").replace("-", "")
    if (
        digits.isascii()
        and digits.isdigit()
        and len(digits) in _PAN_LENGTHS
        and _luhn_valid(digits)
    ):
        raise InvalidRequest(
            "Send a gateway card token, never a card number.",
            param="payment_method.card.token",
            code="raw_card_data_forbidden",
        )
    return token


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
