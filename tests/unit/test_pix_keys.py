"""Pix keys per the DICT's key table (docs/gateways/payouts-and-reconciliation.md §2)."""

from __future__ import annotations

import pytest

from app.domain.errors import InvalidRequest
from app.domain.pix_keys import PixKey, PixKeyType, parse_pix_key

GOOD = [
    ("cpf", "52998224725", "52998224725"),
    ("cpf", "529.982.247-25", "52998224725"),  # operator input: punctuation stripped
    ("cnpj", "11222333000181", "11222333000181"),
    ("cnpj", "11.222.333/0001-81", "11222333000181"),
    ("cnpj", "12abc34501de35", "12ABC34501DE35"),  # alphanumeric CNPJ (not settled: taken)
    ("email", "Maria.Silva@Example.COM", "maria.silva@example.com"),
    ("email", "efipay@sejaefi.com.br", "efipay@sejaefi.com.br"),
    ("email", "a" * 70 + "@ex.com", "a" * 70 + "@ex.com"),  # 77 characters
    ("phone", "+5531999998888", "+5531999998888"),  # Efí's example
    ("phone", "+5510998765432", "+5510998765432"),  # DICT's example
    ("phone", "+551133334444", "+551133334444"),  # a landline: 8 digits
    ("evp", "123E4567-E89B-12D3-A456-426614174000", "123e4567-e89b-12d3-a456-426614174000"),
    ("evp", "2c3c7441-b91e-4982-3c25-6105581e18ae", "2c3c7441-b91e-4982-3c25-6105581e18ae"),
    ("EMAIL", " pix@loja.example ", "pix@loja.example"),  # type in any case, key trimmed
]

BAD = [
    ("cpf", "52998224724"),  # wrong check digit
    ("cpf", "11111111111"),  # all one digit
    ("cpf", "5299822472"),  # ten digits
    ("cpf", "11222333000181"),  # a CNPJ is not a CPF
    ("cnpj", "11222333000182"),
    ("cnpj", "52998224725"),
    ("email", "maria"),
    ("email", "maria@"),
    ("email", "joão@meuemail.com"),  # ASCII only (Efí's own example fails DICT's pattern)
    ("email", "a" * 71 + "@ex.com"),  # 78 characters: 77 is the most
    ("email", "maria silva@example.com"),
    ("phone", "31999998888"),  # no +55: that is not a phone key
    ("phone", "5531999998888"),
    ("phone", "+15551234567"),  # not Brazilian
    ("phone", "+55319999988881"),  # too long
    ("phone", "+55 31 99999-8888"),
    ("evp", "123e4567e89b12d3a456426614174000"),  # no dashes
    ("evp", "123e4567-e89b-12d3-a456-42661417400g"),
    ("evp", "{123e4567-e89b-12d3-a456-426614174000}"),
]


@pytest.mark.parametrize(("key_type", "raw", "value"), GOOD)
def test_a_good_key_comes_back_in_the_dicts_form(key_type: str, raw: str, value: str) -> None:
    assert parse_pix_key(key_type, raw) == PixKey(PixKeyType(key_type.lower()), value)


@pytest.mark.parametrize(("key_type", "raw"), BAD)
def test_a_bad_key_is_refused_naming_the_param(key_type: str, raw: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_pix_key(key_type, raw, param="payee.key")
    assert (refused.value.param, refused.value.code) == ("payee.key", "pix_key_invalid")


def test_an_unknown_key_type_is_refused_never_guessed() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_pix_key("iban", "52998224725", param="payee.key")
    assert (refused.value.param, refused.value.code) == ("payee.key_type", "pix_key_type_invalid")
