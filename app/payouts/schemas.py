"""Payouts' shapes: the command and the answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from typing_extensions import TypedDict

from app.db.money_models import Payout
from app.domain.documents import DocumentType
from app.domain.payouts import PayoutStatus
from app.domain.pix_keys import KEY_MAX_CHARS, PixKeyType
from app.domain.shapes import Strict, Text
from app.encoding import epoch

MAX_DESCRIPTION_CHARS = 139  # Efí's infoPagador, "< 140": what the payee sees


class DestinationIn(Strict):
    type: PixKeyType
    key: Text = Field(min_length=1, max_length=KEY_MAX_CHARS)
    document: Text | None = Field(
        default=None,
        max_length=32,
        description="The payee's CPF or CNPJ; for e-mail, phone and random keys only: "
        "the send is refused unless the key belongs to it",
    )


class CreatePayout(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": 1500,
                    "currency": "brl",
                    "destination": {"type": "email", "key": "maria@example.com"},
                    "description": "Repasse 42",
                }
            ]
        },
    )

    amount: StrictInt = Field(description="Minor units (centavos)")
    currency: Text = Field(min_length=3, max_length=3)
    destination: DestinationIn
    description: Text | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)
    metadata: dict[Text, Text] = Field(default_factory=dict)


class DestinationOut(TypedDict):
    type: str
    key: str
    document: str | None  # masked
    document_type: DocumentType | None


class PayoutOut(TypedDict):
    id: str
    object: Literal["payout"]
    amount: int
    currency: str
    status: PayoutStatus
    destination: DestinationOut
    description: str | None
    failure_code: str | None
    failure_message: str | None
    metadata: dict[str, str]
    created: int
    livemode: bool


class PayoutList(BaseModel):
    object: Literal["list"]
    url: str
    has_more: bool
    data: list[PayoutOut]


def payout_view(payout: Payout) -> PayoutOut:
    return {
        "id": payout.id,
        "object": "payout",
        "amount": payout.amount,
        "currency": payout.currency,
        "status": payout.status,
        "destination": {
            "type": payout.destination_type,
            "key": payout.destination_key,
            "document": payout.destination_document_masked,
            "document_type": payout.destination_document_type,
        },
        "description": payout.description,
        "failure_code": payout.failure_code,
        "failure_message": payout.failure_message,
        "metadata": payout.metadata_,
        "created": epoch(payout.created_at),
        "livemode": payout.livemode,
    }
