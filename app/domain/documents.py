"""Brazilian payer documents (CPF, CNPJ): accepted formats, check digits and masking.

A document is accepted in its official punctuated form or bare, nothing else: no labels,
no names, no stray spaces. The CNPJ may be alphanumeric (Instrução Normativa RFB
nº 2.229/2024, issued from July 2026): 12 characters 0-9/A-Z and 2 numeric check digits,
still modulo 11 with weights 2..9 from the right, each character valued at its ASCII code
minus 48 (so digits keep their value and A=17 … Z=42), as Nota Técnica COCAD/SUARA/RFB
nº 49/2024 describes; its example is 12.ABC.345/01DE-35.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from app.domain.errors import InvalidRequest

DocumentType = Literal["cpf", "cnpj"]

# Each type in its two accepted forms: bare, and punctuated as the Receita prints it.
_CPF_FORMS = (re.compile(r"[0-9]{11}"), re.compile(r"[0-9]{3}\.[0-9]{3}\.[0-9]{3}-[0-9]{2}"))
_CNPJ_FORMS = (
    re.compile(r"[0-9A-Z]{12}[0-9]{2}"),
    re.compile(r"[0-9A-Z]{2}\.[0-9A-Z]{3}\.[0-9A-Z]{3}/[0-9A-Z]{4}-[0-9]{2}"),
)
_PUNCTUATION = str.maketrans("", "", "./-")
_CNPJ_WEIGHTS = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_CHAR_OFFSET = ord("0")  # the Receita's rule: a character's value is its code minus 48
_DOCUMENT_PARAM = "payment_method.pix.payer.document"


@dataclass(frozen=True, slots=True)
class PayerDocument:
    type: DocumentType
    number: str  # bare: 11 digits, or 14 characters for a CNPJ

    @property
    def masked(self) -> str:
        """The document with enough hidden that it identifies nobody: ``***.456.789-**``."""
        n = self.number
        if self.type == "cpf":
            return f"***.{n[3:6]}.{n[6:9]}-**"
        return f"**.{n[2:5]}.{n[5:8]}/{n[8:12]}-**"


def parse_document(raw: str) -> PayerDocument:
    """A CPF or CNPJ, punctuated (529.982.247-25, 12.ABC.345/01DE-35) or bare
    (52998224725, 12ABC34501DE35), with right check digits; anything else is refused."""
    number = raw.translate(_PUNCTUATION)
    if _written_as(raw, _CPF_FORMS) and _cpf_is_valid(number):
        return PayerDocument("cpf", number)
    if _written_as(raw, _CNPJ_FORMS) and _cnpj_is_valid(number):
        return PayerDocument("cnpj", number)
    raise InvalidRequest(
        "The payer document is not a valid CPF or CNPJ: send it punctuated "
        "(529.982.247-25, 12.ABC.345/01DE-35) or bare (52998224725, 12ABC34501DE35).",
        param=_DOCUMENT_PARAM,
        code="invalid_tax_id",
    )


def _written_as(raw: str, forms: tuple[re.Pattern[str], ...]) -> bool:
    return any(form.fullmatch(raw) for form in forms)


def _cpf_check_digit(digits: str) -> int:
    weight = len(digits) + 1
    total = sum(int(d) * (weight - i) for i, d in enumerate(digits))
    return total * 10 % 11 % 10


def _cpf_is_valid(digits: str) -> bool:
    if len(set(digits)) == 1:
        return False
    first = _cpf_check_digit(digits[:9])
    second = _cpf_check_digit(digits[:9] + str(first))
    return digits[9:] == f"{first}{second}"


def cnpj_check_digit(characters: str) -> int:
    """The next check digit of a CNPJ's first 12 (or 12 + 1) characters."""
    weights = _CNPJ_WEIGHTS if len(characters) == len(_CNPJ_WEIGHTS) else (6, *_CNPJ_WEIGHTS)
    values = (ord(char) - _CNPJ_CHAR_OFFSET for char in characters)
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def _cnpj_is_valid(number: str) -> bool:
    if len(set(number)) == 1:
        return False
    first = cnpj_check_digit(number[:12])
    second = cnpj_check_digit(number[:12] + str(first))
    return number[12:] == f"{first}{second}"
