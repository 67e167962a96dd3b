"""Use cases on refunds."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db.models import Refund
from app.db.uow import UnitOfWork
from app.domain import rules
from app.domain.caller import Caller
from app.domain.errors import IllegalTransition, InvalidRequest, NotFound
from app.domain.events import EventType
from app.domain.ids import looks_like_id, new_id
from app.domain.intents import IntentStatus, RefundStatus
from app.services.commands import CreateRefund
from app.services.events import record_event
from app.services.intents import get_intent


async def create_refund(uow: UnitOfWork, caller: Caller, command: CreateRefund) -> Refund:
    try:
        intent = await get_intent(uow, caller, command.payment_intent)
    except NotFound as exc:
        raise NotFound(str(exc), param="payment_intent") from exc
    if intent.status != IntentStatus.SUCCEEDED:
        raise IllegalTransition(
            f"Only a succeeded payment can be refunded; this one is {intent.status}.",
            code="payment_intent_unexpected_state",
        )
    refundable = intent.amount_received - intent.amount_refunded
    if refundable <= 0:
        raise InvalidRequest(
            "This payment is already fully refunded.",
            param="payment_intent",
            code="charge_already_refunded",
        )
    amount = rules.check_amount(
        refundable if command.amount is None else command.amount, maximum=refundable
    )
    rules.check_metadata(command.metadata)
    # Reserving the amount on the intent bumps its version, so a concurrent refund loses.
    intent.amount_refunded += amount
    refund = Refund(
        id=new_id("re"),
        merchant_id=caller.merchant_id,
        payment_intent_id=intent.id,
        livemode=intent.livemode,
        amount=amount,
        currency=intent.currency,
        status=RefundStatus.PENDING.value,
        reason=command.reason,
        metadata_=command.metadata,
        sequence=0,
        created_at=datetime.now(UTC),
    )
    uow.refunds.add(refund)
    await record_event(uow, refund, EventType.REFUND_CREATED)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_AMOUNT_REFUNDED_UPDATED)
    return refund


async def get_refund(uow: UnitOfWork, caller: Caller, refund_id: str) -> Refund:
    refund = None
    if looks_like_id("re", refund_id):
        refund = await uow.refunds.get(caller.merchant_id, refund_id)
    if refund is None:
        raise NotFound(f"No such refund: {refund_id!r}", param="id")
    return refund
