"""Pix keys (DICT "chaves"): the five types and the form each must have before a Pix is
sent to one. docs/gateways/payouts-and-reconciliation.md §2 has each rule's source
(bacen/pix-dict-api 1.8.0 ``KeyType``, ``Key`` and its key table).

Validation buys one thing: a malformed key is refused before any money-moving call. A
well-formed key the DICT does not know is refused by the gateway; neither moves money.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.domain.documents import parse_document
from app.domain.errors import InvalidRequest


class PixKeyType(StrEnum):
    """DICT's ``KeyType``; "new types may appear", and an unknown one is refused."""

    CPF = "cpf"
    CNPJ = "cnpj"
    EMAIL = "email"
    PHONE = "phone"
    EVP = "evp"  # the random key


KEY_MAX_CHARS = 77
# DICT's pattern is E.164's ``\+[1-9][0-9]\d{1,14}``; a Pix phone key is Brazilian: +55, a
# two-digit area code, then 8 or 9 digits (DICT's example +5510998765432).
_PHONE = re.compile(r"\+55[1-9][0-9]\d{8,9}")
_EMAIL = re.compile(
    r"[a-z0-9.!#$&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_EVP = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EXAMPLES = {
    PixKeyType.CPF: "52998224725",
    PixKeyType.CNPJ: "11222333000181",
    PixKeyType.EMAIL: "maria@example.com",
    PixKeyType.PHONE: "+5531999998888",
    PixKeyType.EVP: "123e4567-e89b-12d3-a456-426614174000",
}
DEFAULT_PARAM = "payee.pix_key"


@dataclass(frozen=True, slots=True)
class PixKey:
    type: PixKeyType
    value: str  # as the DICT holds it, and as it goes on the wire


def parse_pix_key(key_type: str, raw: str, *, param: str = DEFAULT_PARAM) -> PixKey:
    """The key in DICT's form: a CPF/CNPJ without punctuation and with right check
    digits, a phone as +E.164, an e-mail or EVP lower-cased; else InvalidRequest."""
    try:
        kind = PixKeyType(key_type.lower())
    except ValueError:
        types = ", ".join(t.value for t in PixKeyType)
        raise InvalidRequest(
            f"{key_type!r} is not a Pix key type: one of {types}.",
            param=f"{param}_type",
            code="pix_key_type_invalid",
        ) from None
    value = _NORMALIZERS[kind](raw.strip())
    if value is None or len(value) > KEY_MAX_CHARS:
        raise InvalidRequest(
            f"The Pix key is not a valid {kind.value} key (e.g. {_EXAMPLES[kind]}).",
            param=param,
            code="pix_key_invalid",
        )
    return PixKey(kind, value)


def _document(raw: str, wanted: str) -> str | None:
    try:
        document = parse_document(raw.upper())
    except InvalidRequest:
        return None
    return document.number if document.type == wanted else None


def _cpf(raw: str) -> str | None:
    return _document(raw, "cpf")


def _cnpj(raw: str) -> str | None:
    return _document(raw, "cnpj")


def _email(raw: str) -> str | None:
    value = raw.lower()
    return value if _EMAIL.fullmatch(value) else None


def _phone(raw: str) -> str | None:
    """+55 in E.164 only: 11 digits without "+" are a CPF, never a phone."""
    return raw if _PHONE.fullmatch(raw) else None


def _evp(raw: str) -> str | None:
    value = raw.lower()
    return value if _EVP.fullmatch(value) else None


_NORMALIZERS = {
    PixKeyType.CPF: _cpf,
    PixKeyType.CNPJ: _cnpj,
    PixKeyType.EMAIL: _email,
    PixKeyType.PHONE: _phone,
    PixKeyType.EVP: _evp,
}
