"""Business rules on merchant input, each failing with a stable code and param."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.card_numbers import refuse_card_number
from app.domain.errors import InvalidRequest

MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_CHARS = 40
MAX_METADATA_VALUE_CHARS = 500
PIX_MIN_EXPIRES_IN_SECONDS = 60
PIX_MAX_EXPIRES_IN_SECONDS = 30 * 24 * 3600


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
    """Size limits, and no card number in a key or a value (a key's param does not
    repeat the key, which may be the card number)."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"Metadata may have at most {MAX_METADATA_KEYS} keys.",
            param="metadata",
            code="metadata_too_many_keys",
        )
    for key, value in metadata.items():
        refuse_card_number(key, param="metadata")
        refuse_card_number(value, param=f"metadata.{key}")
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
