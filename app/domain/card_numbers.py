"""Card numbers (PANs) never enter PixWave: finding one in free text, and the card token
format the gateways issue."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from app.domain.errors import InvalidRequest

MIN_PAN_DIGITS = 12
MAX_PAN_DIGITS = 19
CARD_TOKEN_PARAM = "payment_method.card.token"  # noqa: S105 - a field name
# Mercado Pago's card tokens (the `id` its card_tokens API returns, the `token` of a card
# payment) are 32 lowercase hexadecimal characters, e.g. "ff8080814c11e237014c1ff593b57b4d"
# in mercadopago/devsite-docs reference/api-json/payments.json (POST /v1/payments).
# Mercado Pago is the only gateway PixWave charges cards through.
MERCADOPAGO_CARD_TOKEN = re.compile(r"[0-9a-f]{32}")


def contains_card_number(text: str) -> bool:
    """True if ``text`` holds 12 to 19 digits in a row that pass the Luhn check, once
    Unicode forms are folded (NFKC: full-width and superscript digits become ASCII) and
    separators between digits (anything but a letter) are ignored: "4242.4242 4242_4242",
    "pan:4242424242424242" and full-width digits all count. Letters end a run, so a gateway token
    like "tok_4242…" is judged by the digits it carries, not merged with its neighbours."""
    for run in _digit_runs(unicodedata.normalize("NFKC", text)):
        if any(_luhn_valid(candidate) for candidate in _candidates(run)):
            return True
    return False


def refuse_card_number(text: str | None, *, param: str) -> None:
    if text is not None and contains_card_number(text):
        raise InvalidRequest(
            "Card numbers are not accepted here: send a gateway card token and keep card "
            "data out of descriptions and metadata.",
            param=param,
            code="card_number_not_allowed",
        )


def check_card_token(token: str) -> str:
    """A card token exactly as Mercado Pago issues it; never a card number."""
    refuse_card_number(token, param=CARD_TOKEN_PARAM)
    if MERCADOPAGO_CARD_TOKEN.fullmatch(token) is None:
        raise InvalidRequest(
            "A card token is the 32 lowercase hexadecimal characters Mercado Pago's "
            "card_tokens API returns.",
            param=CARD_TOKEN_PARAM,
            code="card_token_invalid",
        )
    return token


def _digit_runs(text: str) -> Iterator[list[list[int]]]:
    """Each run of digits not broken by a letter, as its groups of adjacent digits."""
    run: list[list[int]] = []
    group: list[int] = []
    for char in text:
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            group.append(digit)
            continue
        if group:
            run.append(group)
            group = []
        if unicodedata.category(char).startswith("L") and run:
            yield run
            run = []
    if group:
        run.append(group)
    if run:
        yield run


def _candidates(run: list[list[int]]) -> Iterator[list[int]]:
    """Every sequence of consecutive groups whose digits number 12 to 19: the digits a
    payer typed as one card number, whatever they put between them."""
    for start in range(len(run)):
        digits: list[int] = []
        for group in run[start:]:
            digits = digits + group
            if len(digits) > MAX_PAN_DIGITS:
                break
            if len(digits) >= MIN_PAN_DIGITS:
                yield digits


def _luhn_valid(digits: list[int]) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 1 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0
