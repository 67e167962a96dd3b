"""Business rules on merchant input: each failure has a stable code and param."""

from __future__ import annotations

import pytest

from app.domain.errors import InvalidRequest
from app.domain.rules import (
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_CHARS,
    PIX_MAX_EXPIRES_IN_SECONDS,
    PIX_MIN_EXPIRES_IN_SECONDS,
    check_amount,
    check_metadata,
    check_pix_expiry,
)

MAXIMUM = 100_000_000


def test_limits_are_the_documented_ones() -> None:
    assert MAX_METADATA_KEYS == 50
    assert MAX_METADATA_KEY_CHARS == 40
    assert MAX_METADATA_VALUE_CHARS == 500
    assert PIX_MIN_EXPIRES_IN_SECONDS == 60
    assert PIX_MAX_EXPIRES_IN_SECONDS == 30 * 24 * 3600


@pytest.mark.parametrize("amount", [1, 1990, MAXIMUM])
def test_amount_within_bounds(amount: int) -> None:
    assert check_amount(amount, maximum=MAXIMUM) == amount


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (0, "amount_too_small"),
        (-1, "amount_too_small"),
        (-MAXIMUM, "amount_too_small"),
        (MAXIMUM + 1, "amount_too_large"),
        (MAXIMUM * 10, "amount_too_large"),
    ],
)
def test_amount_out_of_bounds(amount: int, code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_amount(amount, maximum=MAXIMUM)
    assert caught.value.code == code
    assert caught.value.param == "amount"


def test_amount_error_names_the_given_param() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_amount(501, maximum=500, param="amount_to_capture")
    assert caught.value.code == "amount_too_large"
    assert caught.value.param == "amount_to_capture"


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {f"k{i}": "v" for i in range(50)},
        {"order": "x" * 500},
        {"k" * 40: "v"},
        {"order": ""},
    ],
    ids=["empty", "50-keys", "500-char-value", "40-char-key", "empty-value"],
)
def test_metadata_accepted(metadata: dict[str, str]) -> None:
    check_metadata(metadata)  # raises on any broken rule


@pytest.mark.parametrize(
    ("metadata", "code", "param"),
    [
        ({f"k{i}": "v" for i in range(51)}, "metadata_too_many_keys", "metadata"),
        ({"order": "x" * 501}, "metadata_value_too_long", "metadata.order"),
        ({"k" * 41: "v"}, "metadata_key_invalid", "metadata." + "k" * 40),
        ({"": "v"}, "metadata_key_invalid", "metadata."),
        ({"card": "4242 4242 4242 4242"}, "card_number_not_allowed", "metadata.card"),
        ({"4242-4242-4242-4242": "x"}, "card_number_not_allowed", "metadata"),
    ],
    ids=["51-keys", "501-char-value", "41-char-key", "empty-key", "pan-value", "pan-key"],
)
def test_metadata_rejected(metadata: dict[str, str], code: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_metadata(metadata)
    assert caught.value.code == code
    assert caught.value.param == param


@pytest.mark.parametrize("seconds", [60, 61, 3600, 30 * 24 * 3600 - 1, 30 * 24 * 3600])
def test_pix_expiry_accepted(seconds: int) -> None:
    assert check_pix_expiry(seconds) == seconds


@pytest.mark.parametrize("seconds", [-1, 0, 59, 30 * 24 * 3600 + 1, 10**9])
def test_pix_expiry_rejected(seconds: int) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_pix_expiry(seconds)
    assert caught.value.param == "expires_in"
    assert caught.value.code == "parameter_invalid"
