"""Refunds' shapes: the command and the answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt
from typing_extensions import TypedDict

from app.db.models import Refund
from app.domain.intents import RefundStatus
from app.domain.shapes import Strict, Text
from app.encoding import epoch


class CreateRefund(Strict):
    payment_intent: Text = Field(min_length=1, max_length=64)
    amount: StrictInt | None = None
    reason: Literal["requested_by_customer", "duplicate", "fraudulent"] | None = None
    metadata: dict[Text, Text] = Field(default_factory=dict)


# The answer is written once: it types ``refund_view`` and is published in /openapi.json.
class RefundOut(TypedDict):
    id: str
    object: Literal["refund"]
    payment_intent: str
    amount: int
    currency: str
    status: RefundStatus
    reason: str | None
    failure_reason: str | None
    metadata: dict[str, str]
    created: int
    livemode: bool


def refund_view(refund: Refund) -> RefundOut:
    return {
        "id": refund.id,
        "object": "refund",
        "payment_intent": refund.payment_intent_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "failure_reason": refund.failure_reason,
        "metadata": refund.metadata_,
        "created": epoch(refund.created_at),
        "livemode": refund.livemode,
    }
