"""Money: integer minor units plus an ISO-4217 code, exact decimal rendering."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from app.domain.errors import InvalidRequest
from app.domain.money import CURRENCY_EXPONENTS, Money, normalize_currency


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1990, "BRL", "19.90"),
        (100, "BRL", "1.00"),
        (5, "BRL", "0.05"),
        (0, "BRL", "0.00"),
        (-5, "BRL", "-0.05"),
        (123456789, "USD", "1234567.89"),
        (500, "JPY", "500"),
        (1, "CLP", "1"),
        (1234, "KWD", "1.234"),
        (5, "KWD", "0.005"),
        (1000, "KWD", "1.000"),
    ],
)
def test_to_decimal_string(amount: int, currency: str, expected: str) -> None:
    assert Money(amount, currency).to_decimal_string() == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1990, "BRL", Decimal("19.90")),
        (500, "JPY", Decimal("500")),
        (1234, "KWD", Decimal("1.234")),
    ],
)
def test_to_decimal_is_exact(amount: int, currency: str, expected: Decimal) -> None:
    value = Money(amount, currency).to_decimal()
    assert isinstance(value, Decimal)
    assert value == expected


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("BRL", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("CLP", 0), ("PYG", 0), ("KWD", 3)],
)
def test_exponent(currency: str, exponent: int) -> None:
    assert CURRENCY_EXPONENTS[currency] == exponent
    assert Money(1, currency).exponent == exponent


@pytest.mark.parametrize("currency", ["XYZ", "BTC", "", "BRLX"])
def test_unknown_currency_rejected(currency: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Money(100, currency)
    assert caught.value.code == "currency_unsupported"
    assert caught.value.param == "currency"


def test_money_does_not_normalize_lowercase_currency() -> None:
    # Callers must go through normalize_currency first.
    with pytest.raises(InvalidRequest) as caught:
        Money(100, "brl")
    assert caught.value.code == "currency_unsupported"


@pytest.mark.parametrize(("raw", "expected"), [("brl", "BRL"), ("Jpy", "JPY"), ("KWD", "KWD")])
def test_normalize_currency(raw: str, expected: str) -> None:
    assert normalize_currency(raw) == expected


@pytest.mark.parametrize("raw", ["xyz", "", "R$"])
def test_normalize_currency_rejects_unknown(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        normalize_currency(raw)
    assert caught.value.code == "currency_unsupported"
    assert caught.value.param == "currency"


@pytest.mark.parametrize("amount", [True, False, 19.9, 1990.0, "1990", Decimal("1990"), None])
def test_non_integer_amount_rejected(amount: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Money(amount, "BRL")
    assert caught.value.param == "amount"
    assert caught.value.code == "parameter_invalid"


def test_add_same_currency() -> None:
    assert Money(1990, "BRL") + Money(10, "BRL") == Money(2000, "BRL")


def test_subtract_same_currency() -> None:
    assert Money(1990, "BRL") - Money(990, "BRL") == Money(1000, "BRL")
    assert Money(1, "BRL") - Money(2, "BRL") == Money(-1, "BRL")


@pytest.mark.parametrize(
    ("left", "right"),
    [(Money(100, "BRL"), Money(100, "USD")), (Money(100, "JPY"), Money(100, "BRL"))],
)
def test_combining_different_currencies_raises(left: Money, right: Money) -> None:
    with pytest.raises(InvalidRequest) as caught:
        left + right
    assert caught.value.param == "currency"
    with pytest.raises(InvalidRequest):
        left - right


def test_money_is_immutable_value() -> None:
    money = Money(1990, "BRL")
    assert money == Money(1990, "BRL")
    assert money != Money(1990, "USD")
    assert hash(money) == hash(Money(1990, "BRL"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = 1  # type: ignore[misc]


def test_decimal_conversion_is_exact_for_huge_amounts() -> None:
    assert Money(10**28 + 1, "BRL").to_decimal_string() == "100000000000000000000000000.01"
