"""Closing a review: approve (the payment stands) or refund (its money goes back through
the refunds area; an intent not yet paid is canceled instead, so it never is)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum

from app.db.models import PaymentIntent
from app.db.risk_models import Review
from app.db.uow import UnitOfWork
from app.domain.caller import Caller
from app.domain.errors import IllegalTransition, NotFound
from app.domain.events import EventType
from app.domain.ids import looks_like_id
from app.domain.intents import MERCHANT_CANCELABLE, CancellationReason, IntentStatus
from app.payments.events import record_event
from app.payments.intents import get_intent, mark_canceled
from app.refunds.schemas import CreateRefund
from app.refunds.service import create_refund
from app.risk.repository import ReviewRepository
from app.risk.service import show_review

Close = Callable[[UnitOfWork, Caller, str], Awaitable[Review]]


class ClosedReason(StrEnum):
    APPROVED = "approved"
    REFUNDED = "refunded"


async def get_review(uow: UnitOfWork, caller: Caller, review_id: str) -> Review:
    review = None
    if looks_like_id("prv", review_id):
        review = await uow.repository(ReviewRepository).get(caller.merchant_id, review_id)
    if review is None:
        raise NotFound(f"No such review: {review_id!r}", param="id")
    return review


async def approve_review(uow: UnitOfWork, caller: Caller, review_id: str) -> Review:
    review, intent = await _open_review(uow, caller, review_id)
    await _close(uow, review, intent, ClosedReason.APPROVED)
    return review


async def refund_review(uow: UnitOfWork, caller: Caller, review_id: str) -> Review:
    """Give the money back: a refund of what is left of a succeeded payment, a cancel of
    one still awaiting its payer; one that failed or was canceled has nothing to give."""
    review, intent = await _open_review(uow, caller, review_id)
    status = intent.status
    if status is IntentStatus.SUCCEEDED and intent.amount_received > intent.amount_refunded:
        refund = await create_refund(
            uow, caller, CreateRefund(payment_intent=intent.id, reason="fraudulent")
        )
        review.refund_id = refund.id
    elif status in MERCHANT_CANCELABLE:
        await mark_canceled(uow, intent, CancellationReason.FRAUDULENT)
    elif status is IntentStatus.PROCESSING:
        raise IllegalTransition(
            "The payment is being charged; close the review once it settles.",
            code="payment_intent_unexpected_state",
        )
    await _close(uow, review, intent, ClosedReason.REFUNDED)
    return review


async def _open_review(
    uow: UnitOfWork, caller: Caller, review_id: str
) -> tuple[Review, PaymentIntent]:
    review = await get_review(uow, caller, review_id)
    if not review.open:
        raise IllegalTransition(
            f"Review {review.id} is closed already ({review.closed_reason}).",
            code="review_already_closed",
        )
    return review, await get_intent(uow, caller, review.payment_intent_id)


async def _close(
    uow: UnitOfWork, review: Review, intent: PaymentIntent, reason: ClosedReason
) -> None:
    review.open = False
    review.closed_reason = reason.value
    review.closed_at = datetime.now(UTC)
    show_review(intent, review)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_REVIEW_CLOSED)
    await uow.flush()  # a concurrent close loses the version check here: 409
