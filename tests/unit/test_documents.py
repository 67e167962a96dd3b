"""CPF / CNPJ: accepted forms, check digits (numeric and alphanumeric CNPJ) and masking."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.documents import PayerDocument, cnpj_check_digit, parse_document
from app.domain.errors import InvalidRequest

VALID_CPFS = ["52998224725", "11144477735"]
VALID_CNPJ = "11222333000181"
# The Receita Federal's example of an alphanumeric CNPJ (Nota Técnica COCAD/SUARA/RFB
# nº 49/2024, and its SERPRO manual of the check digit calculation).
RECEITA_ALPHANUMERIC_CNPJ = "12ABC34501DE35"
CNPJ_CHARACTERS = string.digits + string.ascii_uppercase


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        ("111.444.777-35", "11144477735"),
        ("11144477735", "11144477735"),
    ],
)
def test_valid_cpf(raw: str, digits: str) -> None:
    assert parse_document(raw) == PayerDocument("cpf", digits)


@pytest.mark.parametrize("raw", ["11.222.333/0001-81", "11222333000181"])
def test_valid_cnpj(raw: str) -> None:
    assert parse_document(raw) == PayerDocument("cnpj", VALID_CNPJ)


@pytest.mark.parametrize("raw", ["12.ABC.345/01DE-35", "12ABC34501DE35"])
def test_the_receitas_alphanumeric_cnpj_example(raw: str) -> None:
    assert parse_document(raw) == PayerDocument("cnpj", RECEITA_ALPHANUMERIC_CNPJ)


def test_alphanumeric_check_digits_value_each_character_at_its_code_minus_48() -> None:
    # The example worked by hand: 1·5 + 2·4 + A(17)·3 + B(18)·2 + C(19)·9 + 3·8 + 4·7 + 5·6
    # + 0·5 + 1·4 + D(20)·3 + E(21)·2 = 459; 459 mod 11 = 8; 11 - 8 = 3.
    assert cnpj_check_digit("12ABC34501DE") == 3
    assert cnpj_check_digit("12ABC34501DE3") == 5


@given(st.text(CNPJ_CHARACTERS, min_size=12, max_size=12), st.integers(0, 99))
def test_a_cnpj_is_valid_exactly_with_its_own_check_digits(body: str, digits: int) -> None:
    first = cnpj_check_digit(body)
    right = f"{first}{cnpj_check_digit(body + str(first))}"
    candidate = f"{body}{digits:02d}"
    if len(set(candidate)) == 1:
        return  # one repeated character is never issued
    if candidate.endswith(right):
        assert parse_document(candidate) == PayerDocument("cnpj", candidate)
    else:
        with pytest.raises(InvalidRequest):
            parse_document(candidate)


@pytest.mark.parametrize(
    "raw",
    [
        "529.982.247-26",  # wrong second check digit
        "529.982.247-15",  # wrong first check digit
        "000.000.000-00",  # repeated digits pass the arithmetic but are not issued
        "111.111.111-11",
        "999.999.999-99",
        "529.982.247-2",  # 10 digits
        "529.982.247-250",  # 12 digits
        "5299822472",
        "1122233300018",  # 13 digits
        "112223330001810",  # 15 digits
        "11.222.333/0001-82",  # CNPJ, wrong second check digit
        "11.222.333/0001-71",  # CNPJ, wrong first check digit
        "00.000.000/0000-00",
        "11.111.111/1111-11",
        "",
        "not a document",
        "CPF: 529.982.247-25 (Maria)",  # a label and a name around a valid CPF
        "529.982.247-25 ",
        " 529 982 247 25 ",
        "529.982.24725",  # half punctuated
        "529-982-247.25",
        "11.222.333.0001.81",
        "11 222 333 0001 81",
        "11222333/0001-81",
        "12.abc.345/01de-35",  # the letters of a CNPJ are upper case
        "12.ABC.345/01DE-36",  # wrong second check digit
        "12.ABC.345/01DE-3A",  # check digits are digits
        "12ABC34501D35",  # 13 characters
        "ABC.DEF.GHI-JK",  # letters in a CPF
    ],
)
def test_invalid_documents_rejected(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_document(raw)
    assert caught.value.code == "invalid_tax_id"
    assert caught.value.param == "payment_method.pix.payer.document"


@pytest.mark.parametrize("valid", VALID_CPFS)
@pytest.mark.parametrize("position", [9, 10])
def test_any_other_cpf_check_digit_is_rejected(valid: str, position: int) -> None:
    for replacement in "0123456789":
        if replacement == valid[position]:
            continue
        candidate = valid[:position] + replacement + valid[position + 1 :]
        with pytest.raises(InvalidRequest):
            parse_document(candidate)


@pytest.mark.parametrize("position", [12, 13])
def test_any_other_cnpj_check_digit_is_rejected(position: int) -> None:
    for replacement in "0123456789":
        if replacement == VALID_CNPJ[position]:
            continue
        candidate = VALID_CNPJ[:position] + replacement + VALID_CNPJ[position + 1 :]
        with pytest.raises(InvalidRequest):
            parse_document(candidate)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("52998224725", "***.982.247-**"),
        ("529.982.247-25", "***.982.247-**"),
        ("111.444.777-35", "***.444.777-**"),
        ("11.222.333/0001-81", "**.222.333/0001-**"),
        ("12.ABC.345/01DE-35", "**.ABC.345/01DE-**"),
    ],
)
def test_masked(raw: str, masked: str) -> None:
    assert parse_document(raw).masked == masked


@pytest.mark.parametrize("raw", [*VALID_CPFS, VALID_CNPJ, RECEITA_ALPHANUMERIC_CNPJ])
def test_masked_hides_the_document(raw: str) -> None:
    document = parse_document(raw)
    visible = "".join(ch for ch in document.masked if ch.isdigit())
    assert raw not in document.masked
    assert visible != document.number
    assert not document.masked.startswith(document.number[:2])
    assert not document.masked.endswith(document.number[-2:])


@pytest.mark.parametrize(
    "raw", ["\u00b229982247-25", "\u0665\u0662\u0669\u0669\u0668\u0662\u0662\u0664\u066725"]
)
def test_digits_of_other_scripts_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_document(raw)
    assert caught.value.code == "invalid_tax_id"
