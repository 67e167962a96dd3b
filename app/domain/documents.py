"""Brazilian payer documents (CPF, CNPJ): check digits and masking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.domain.errors import InvalidRequest

DocumentType = Literal["cpf", "cnpj"]

_CPF_LENGTH = 11
_CNPJ_LENGTH = 14
_CNPJ_WEIGHTS = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_ASCII_DIGITS = "0123456789"
_DOCUMENT_PARAM = "payment_method.pix.payer.document"


@dataclass(frozen=True, slots=True)
class PayerDocument:
    type: DocumentType
    digits: str

    @property
    def masked(self) -> str:
        """The document with enough hidden that it identifies nobody: ``***.456.789-**``."""
        d = self.digits
        if self.type == "cpf":
            return f"***.{d[3:6]}.{d[6:9]}-**"
        return f"**.{d[2:5]}.{d[5:8]}/{d[8:12]}-**"


def parse_document(raw: str) -> PayerDocument:
    """Accept a CPF or CNPJ with or without punctuation; reject bad check digits."""
    digits = "".join(ch for ch in raw if ch in _ASCII_DIGITS)
    if any(ch.isdigit() and ch not in _ASCII_DIGITS for ch in raw):
        digits = ""  # other scripts' digits are not a Brazilian document
    if len(digits) == _CPF_LENGTH and _cpf_is_valid(digits):
        return PayerDocument("cpf", digits)
    if len(digits) == _CNPJ_LENGTH and _cnpj_is_valid(digits):
        return PayerDocument("cnpj", digits)
    raise InvalidRequest(
        "The payer document is not a valid CPF or CNPJ.",
        param=_DOCUMENT_PARAM,
        code="invalid_tax_id",
    )


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


def _cnpj_check_digit(digits: str) -> int:
    weights = _CNPJ_WEIGHTS if len(digits) == len(_CNPJ_WEIGHTS) else (6, *_CNPJ_WEIGHTS)
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def _cnpj_is_valid(digits: str) -> bool:
    if len(set(digits)) == 1:
        return False
    first = _cnpj_check_digit(digits[:12])
    second = _cnpj_check_digit(digits[:12] + str(first))
    return digits[12:] == f"{first}{second}"
