"""Centavos to and from the wire forms, exactly."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.gateways.amounts import to_centavos, to_pix_value, to_reais
from app.gateways.mercadopago import wire_amount


@pytest.mark.parametrize(
    ("value", "centavos"),
    [("19.90", 1990), ("19.9", 1990), (Decimal("0.05"), 5), (7, 700), ("1000000.00", 100000000)],
)
def test_wire_amounts_read_as_centavos(value: object, centavos: int) -> None:
    assert to_centavos(value) == centavos


@pytest.mark.parametrize("value", ["19.999", "abc", "NaN", "Infinity", None, ""])
def test_fractions_of_a_centavo_and_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        to_centavos(value)


@pytest.mark.parametrize(("centavos", "text"), [(1990, "19.90"), (5, "0.05"), (100, "1.00")])
def test_pix_values_have_two_decimals(centavos: int, text: str) -> None:
    assert to_pix_value(centavos) == text
    assert to_reais(centavos) == Decimal(text)


@given(st.integers(min_value=1, max_value=10**13))
def test_the_mercadopago_json_number_carries_the_exact_amount(centavos: int) -> None:
    on_the_wire = json.dumps({"transaction_amount": wire_amount(centavos)})
    assert to_centavos(json.loads(on_the_wire, parse_float=Decimal)["transaction_amount"]) == (
        centavos
    )
