"""CPF / CNPJ check digits and masking."""

from __future__ import annotations

import pytest

from app.domain.documents import PayerDocument, parse_document
from app.domain.errors import InvalidRequest

VALID_CPFS = ["52998224725", "11144477735"]
VALID_CNPJ = "11222333000181"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        (" 529 982 247 25 ", "52998224725"),
        ("111.444.777-35", "11144477735"),
        ("11144477735", "11144477735"),
    ],
)
def test_valid_cpf(raw: str, digits: str) -> None:
    assert parse_document(raw) == PayerDocument("cpf", digits)


@pytest.mark.parametrize(
    "raw", ["11.222.333/0001-81", "11222333000181", "11.222.333.0001.81", "11 222 333 0001 81"]
)
def test_valid_cnpj(raw: str) -> None:
    assert parse_document(raw) == PayerDocument("cnpj", VALID_CNPJ)


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
    ],
)
def test_masked(raw: str, masked: str) -> None:
    assert parse_document(raw).masked == masked


@pytest.mark.parametrize("raw", [*VALID_CPFS, VALID_CNPJ])
def test_masked_hides_the_document(raw: str) -> None:
    document = parse_document(raw)
    visible = "".join(ch for ch in document.masked if ch.isdigit())
    assert raw not in document.masked
    assert visible != document.digits
    assert not document.masked.startswith(document.digits[:2])
    assert not document.masked.endswith(document.digits[-2:])


@pytest.mark.parametrize(
    "raw", ["\u00b229982247-25", "\u0665\u0662\u0669\u0669\u0668\u0662\u0662\u0664\u066725"]
)
def test_digits_of_other_scripts_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_document(raw)
    assert caught.value.code == "invalid_tax_id"
