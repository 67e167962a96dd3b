"""Card numbers are found however they are written; card tokens are Mercado Pago's form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.card_numbers import (
    CARD_TOKEN_PARAM,
    check_card_token,
    contains_card_number,
    refuse_card_number,
)
from app.domain.errors import InvalidRequest

# Mercado Pago's documented example (mercadopago/devsite-docs reference/api-json/payments.json)
# and a token from a real card_tokens answer (mercadopago/sdk-js issue #40).
MERCADOPAGO_TOKENS = ["ff8080814c11e237014c1ff593b57b4d", "7fc113ee3102728a416834c54ef16ac7"]
TEST_PANS = [
    "4242424242424242",
    "5555555555554444",
    "378282246310005",  # 15-digit Amex test number
    "4222222222222",  # 13-digit Visa test number
    "6011111111111117",
    "3530111333300000",
]
# What may sit between the digits a payer types; NFKC folds the odd spaces to " ".
SEPARATORS = [" ", "  ", "-", ".", "/", "_", "\t", "\n", ":", ",", "\u00a0", "\u2009", "\u200b"]
FULL_WIDTH_OFFSET = ord("\uff10") - ord("0")


def _luhn_completed(body: str) -> str:
    """``body`` with the check digit that makes it pass Luhn."""
    for check in "0123456789":
        candidate = body + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("some check digit always completes a Luhn number")


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + FULL_WIDTH_OFFSET) if c.isdigit() else c for c in text)


luhn_pans = st.text("0123456789", min_size=11, max_size=18).map(_luhn_completed)


@st.composite
def written_out(draw: st.DrawFn, pan: str) -> str:
    """``pan`` as someone might type it: digits in groups with any separators between,
    perhaps in full-width digits, perhaps inside other text."""
    pieces: list[str] = []
    for digit in pan:
        if pieces and draw(st.booleans()):
            pieces.append(draw(st.sampled_from(SEPARATORS)))
        pieces.append(digit)
    text = "".join(pieces)
    if draw(st.booleans()):
        text = _full_width(text)
    prefix = draw(st.sampled_from(["", "pan:", "card ", "PAN=", "número do cartão: "]))
    suffix = draw(st.sampled_from(["", " exp 12/30", ";", " (Maria)"]))
    return prefix + text + suffix


@given(st.data(), luhn_pans)
def test_a_card_number_is_found_however_it_is_written(data: st.DataObject, pan: str) -> None:
    assert contains_card_number(data.draw(written_out(pan)))


@given(st.data(), luhn_pans)
def test_a_card_number_token_is_refused_as_a_card_number(data: st.DataObject, pan: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_card_token(data.draw(written_out(pan)))
    assert (caught.value.code, caught.value.param) == ("card_number_not_allowed", CARD_TOKEN_PARAM)


@given(st.text("0123456789", min_size=12, max_size=19))
def test_one_run_of_digits_is_a_card_number_exactly_when_it_passes_luhn(digits: str) -> None:
    assert contains_card_number(f"ref {digits}.") == (_luhn_completed(digits[:-1]) == digits)


@pytest.mark.parametrize("pan", TEST_PANS)
@pytest.mark.parametrize("separator", ["", " ", "-", ".", "/", "_", "\t"])
@pytest.mark.parametrize(
    "wrapper", ["{}", "pan:{}", "\uff50\uff41\uff4e\uff1a{}", "my card is {}!"]
)
def test_test_card_numbers_in_the_reported_forms(pan: str, separator: str, wrapper: str) -> None:
    text = wrapper.format(separator.join(pan[i : i + 4] for i in range(0, len(pan), 4)))
    assert contains_card_number(text)
    assert contains_card_number(_full_width(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "4242424242424241",  # fails Luhn
        "79927398713",  # Luhn-valid but 11 digits: not a card number length
        "42424242424242424242",  # 20 digits in a row: no card number is that long
        "4242a4242b4242c4242",  # letters split it into short runs
        "Pedido 1234 de 2026-12-01",
        "CPF 529.982.247-25",  # 11 digits
        *MERCADOPAGO_TOKENS,
    ],
)
def test_text_without_a_card_number(text: str) -> None:
    assert not contains_card_number(text)
    refuse_card_number(text, param="description")  # raises if it found one


def test_refusal_names_the_param() -> None:
    with pytest.raises(InvalidRequest) as caught:
        refuse_card_number("4242 4242 4242 4242", param="metadata.note")
    assert (caught.value.code, caught.value.param) == ("card_number_not_allowed", "metadata.note")


@pytest.mark.parametrize("token", MERCADOPAGO_TOKENS)
def test_mercadopago_tokens_are_accepted(token: str) -> None:
    assert check_card_token(token) == token


@pytest.mark.parametrize(
    "token",
    [
        "tok_test_visa_4242",
        "tok_abc",
        "card_1a2b3c",
        "FF8080814C11E237014C1FF593B57B4D",  # Mercado Pago issues lowercase
        "ff8080814c11e237014c1ff593b57b4",  # 31 characters
        "ff8080814c11e237014c1ff593b57b4d0",  # 33 characters
        "ff8080814c11e237014c1ff593b57b4g",
        " ff8080814c11e237014c1ff593b57b4d",
    ],
)
def test_anything_else_is_not_a_card_token(token: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_card_token(token)
    assert (caught.value.code, caught.value.param) == ("card_token_invalid", CARD_TOKEN_PARAM)
