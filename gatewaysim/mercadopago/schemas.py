"""Request bodies the simulated Mercado Pago accepts; amounts arrive as integer centavos."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, model_validator

from app.gateways.amounts import to_centavos

PIX = "pix"
# A card token as Mercado Pago's card_tokens API issues it, e.g.
# "ff8080814c11e237014c1ff593b57b4d" (mercadopago/devsite-docs reference/api-json/payments.json).
CARD_TOKEN = re.compile(r"[0-9a-f]{32}")
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
    # Cards may leave it out: the simulator then calls the card a visa.
    payment_method_id: str | None = Field(None, min_length=1)
    token: str | None = None
    installments: int = Field(1, ge=1, le=MAX_INSTALLMENTS)
    capture: bool = True
    payer: PayerIn
    external_reference: str | None = None
    notification_url: str | None = Field(None, pattern=r"^https?://")
    date_of_expiration: AwareDatetime | None = None

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
