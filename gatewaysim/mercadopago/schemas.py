"""Request bodies the simulated Mercado Pago accepts; amounts arrive as integer centavos."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from app.gateways.amounts import to_centavos

PIX = "pix"
# A card token as Mercado Pago's card_tokens API issues it, e.g.
# "ff8080814c11e237014c1ff593b57b4d" (mercadopago/devsite-docs reference/api-json/payments.json).
CARD_TOKEN = re.compile(r"[0-9a-f]{32}")
# date_of_expiration is "yyyy-MM-dd'T'HH:mm:ss.SSSz", e.g. 2020-05-30T23:59:59.000-04:00
# (developers/en/docs/checkout-pro/additional-settings/expiration-date).
EXPIRATION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$")
MAX_INSTALLMENTS = 24
DOCUMENT_DIGITS = {"CPF": 11, "CNPJ": 14}


def _reais_to_centavos(value: object) -> int:
    """A JSON number of reais (19.9) as centavos (1990): positive, whole centavos only."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number of reais, e.g. 19.9")
    centavos = to_centavos(value)
    if centavos <= 0:
        raise ValueError("must be greater than 0")
    return centavos


Centavos = Annotated[int, BeforeValidator(_reais_to_centavos)]


def _expiration(value: object) -> datetime:
    if not isinstance(value, str) or not EXPIRATION_FORMAT.match(value):
        raise ValueError("must be yyyy-MM-dd'T'HH:mm:ss.SSS with an offset, e.g. -03:00")
    return datetime.fromisoformat(value)


def _issuer(value: object) -> str:
    """The SDK types it as a number (sdk-nodejs payment/create/types.ts); examples send
    both 310 and "310"."""
    if isinstance(value, bool) or not str(value).isdigit():
        raise ValueError("must be the issuer's numeric id")
    return str(value)


Expiration = Annotated[datetime, BeforeValidator(_expiration)]
IssuerId = Annotated[str, BeforeValidator(_issuer)]


class Identification(BaseModel):
    type: Literal["CPF", "CNPJ"]
    number: str = Field(pattern=r"^\d+$")

    @model_validator(mode="after")
    def _length_fits_type(self) -> Self:
        if len(self.number) != DOCUMENT_DIGITS[self.type]:
            raise ValueError(f"a {self.type} has {DOCUMENT_DIGITS[self.type]} digits")
        return self


class PayerIn(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    first_name: str | None = None
    last_name: str | None = None
    identification: Identification | None = None


class PaymentIn(BaseModel):
    transaction_amount: Centavos
    description: str = Field(min_length=1)
    # Cards may leave it out; then it is inferred from the token, which can fail with
    # 2131 "Cannot infer Payment Method" (sdk-nodejs issue 179): see issuing.py.
    payment_method_id: str | None = Field(None, min_length=1)
    issuer_id: IssuerId | None = None
    token: str | None = None
    installments: int = Field(1, ge=1, le=MAX_INSTALLMENTS)
    capture: bool = True
    payer: PayerIn
    external_reference: str | None = None
    notification_url: str | None = Field(None, pattern=r"^https?://")
    date_of_expiration: Expiration | None = None

    @property
    def is_pix(self) -> bool:
        return self.payment_method_id == PIX

    @model_validator(mode="after")
    def _cards_need_a_token(self) -> Self:
        if self.is_pix:
            return self
        if self.token is None:
            raise ValueError("token is required for card payments")
        if CARD_TOKEN.fullmatch(self.token) is None:
            raise ValueError("token must be a card token: 32 hexadecimal characters")
        return self


class PaymentUpdateIn(BaseModel):
    """Either ``{"status": "cancelled"}`` or ``{"capture": true}`` with an optional amount."""

    status: Literal["cancelled"] | None = None
    capture: Literal[True] | None = None
    transaction_amount: Centavos | None = None

    @model_validator(mode="after")
    def _one_change(self) -> Self:
        if (self.status is None) == (self.capture is None):
            raise ValueError('send either {"status": "cancelled"} or {"capture": true}')
        if self.transaction_amount is not None and self.capture is None:
            raise ValueError("transaction_amount goes with capture only")
        return self


class RefundIn(BaseModel):
    amount: Centavos | None = None  # None refunds what is left
