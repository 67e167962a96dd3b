"""The rule language: each rule is a typed definition with a discriminating ``type``
(docs/risk.md). A rule that matches an intent gives a reason with its ``action``
(``block`` or ``review``) and ``score``; an allow-list match ends the screening."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from app.domain.intents import PaymentMethodType
from app.domain.shapes import Strict

MAX_WINDOW_SECONDS = 7 * 86400
MAX_LIST_VALUES = 1000
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_FINGERPRINT = re.compile(r"^(pd|cf)_[0-9a-f]{24}$")


class Action(StrEnum):
    BLOCK = "block"
    REVIEW = "review"


class Decision(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"


class OnUnavailable(StrEnum):
    """What a velocity rule does while Redis does not answer."""

    ALLOW = "allow"  # fail open: the rule is skipped, an alert says so
    BLOCK = "block"  # fail closed: the rule matches


class VelocityKey(StrEnum):
    PAYER_DOCUMENT = "payer_document"
    CARD_FINGERPRINT = "card_fingerprint"
    MERCHANT = "merchant"


class ListField(StrEnum):
    PAYER_DOCUMENT = "payer_document"
    CARD_FINGERPRINT = "card_fingerprint"
    CLIENT_IP = "client_ip"
    EMAIL_DOMAIN = "email_domain"


DEFAULT_SCORES = {Action.BLOCK: 90, Action.REVIEW: 60}
Score = Annotated[int, Field(ge=0, le=100)]


class _Rule(Strict):
    id: str | None = Field(default=None, description="Given by PixWave when the rule is added")
    description: str | None = Field(default=None, max_length=200)


class _Scored(_Rule):
    action: Action = Action.REVIEW
    score: Score | None = Field(
        default=None, description="0-100; by default 90 for block and 60 for review"
    )
    method: PaymentMethodType | None = Field(
        default=None, description="Only intents of this method; every method if absent"
    )

    @property
    def weight(self) -> int:
        return DEFAULT_SCORES[self.action] if self.score is None else self.score

    def applies_to(self, method: PaymentMethodType) -> bool:
        return self.method is None or self.method is method


class AmountLimit(_Scored):
    """Matches an intent of more than ``max_amount``."""

    type: Literal["amount_limit"]
    max_amount: StrictInt = Field(ge=1)


class FirstPaymentLimit(_Scored):
    """Matches a payer's first payment to the merchant when it is above ``max_amount``."""

    type: Literal["first_payment_limit"]
    max_amount: StrictInt = Field(ge=1)


class Velocity(_Scored):
    """Matches when counting this intent would take the payer's (or the card's, or the
    merchant's) intents in the last ``window_seconds`` past ``max_count`` or their sum
    past ``max_amount``. Only intents that pass the screening are counted."""

    type: Literal["velocity"]
    key: VelocityKey
    window_seconds: StrictInt = Field(ge=1, le=MAX_WINDOW_SECONDS)
    max_count: StrictInt | None = Field(default=None, ge=1)
    max_amount: StrictInt | None = Field(default=None, ge=1)
    on_unavailable: OnUnavailable = OnUnavailable.ALLOW

    @model_validator(mode="after")
    def _has_a_limit(self) -> Self:
        if self.max_count is None and self.max_amount is None:
            raise ValueError("give max_count, max_amount or both")
        return self


class _Listed(_Rule):
    field: ListField
    values: list[str] = Field(min_length=1, max_length=MAX_LIST_VALUES)

    @field_validator("values")
    @classmethod
    def _values_fit_the_field(cls, values: list[str], info: ValidationInfo) -> list[str]:
        listed = info.data.get("field")
        if listed is None:
            return values  # the field itself is refused
        return [_listed_value(listed, index, value) for index, value in enumerate(values)]


class BlockList(_Listed):
    """Blocks an intent whose ``field`` is one of ``values``."""

    type: Literal["block_list"]

    @property
    def action(self) -> Action:
        return Action.BLOCK

    @property
    def weight(self) -> int:
        return 100


class AllowList(_Listed):
    """Allows an intent whose ``field`` is one of ``values``, whatever other rules say
    (and counts it in no velocity window)."""

    type: Literal["allow_list"]


def _listed_value(field: ListField, index: int, value: str) -> str:
    """A list value in its canonical form; payer documents are fingerprints by then
    (the service turns a CPF or CNPJ into one before the rule is built)."""
    if field is ListField.CLIENT_IP:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ValueError(f"[{index}] {value!r} is not an IP address or network") from exc
    if field is ListField.EMAIL_DOMAIN:
        domain = value.strip().lower().removeprefix("@")
        if not _DOMAIN.match(domain):
            raise ValueError(f"[{index}] {value!r} is not an e-mail domain")
        return domain
    if not _FINGERPRINT.match(value):
        raise ValueError(f"[{index}] {value!r} is not a fingerprint (pd_… or cf_…)")
    return value


Rule = Annotated[
    AmountLimit | FirstPaymentLimit | Velocity | BlockList | AllowList,
    Field(discriminator="type"),
]
ScoredRule = AmountLimit | FirstPaymentLimit | Velocity | BlockList


def default_rules() -> list[Rule]:
    """What screens a merchant that has not written its own rules: review (never block)
    what is unusual, so nothing legitimate is refused before the merchant decides."""
    return [
        AmountLimit(
            type="amount_limit",
            id="default_pix_amount",
            method=PaymentMethodType.PIX,
            max_amount=2_000_000,
            description="PIX above R$ 20.000,00",
        ),
        AmountLimit(
            type="amount_limit",
            id="default_card_amount",
            method=PaymentMethodType.CARD,
            max_amount=1_000_000,
            description="Card payments above R$ 10.000,00",
        ),
        FirstPaymentLimit(
            type="first_payment_limit",
            id="default_first_payment",
            max_amount=200_000,
            description="A payer's first payment above R$ 2.000,00",
        ),
        Velocity(
            type="velocity",
            id="default_document_velocity",
            key=VelocityKey.PAYER_DOCUMENT,
            window_seconds=600,
            max_count=10,
            max_amount=5_000_000,
            description="More than 10 intents (or R$ 50.000,00) from one CPF/CNPJ in 10 min",
        ),
        Velocity(
            type="velocity",
            id="default_card_velocity",
            key=VelocityKey.CARD_FINGERPRINT,
            window_seconds=3600,
            max_count=5,
            description="More than 5 intents with one card in an hour",
        ),
    ]
