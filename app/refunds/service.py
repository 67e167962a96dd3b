"""Use cases on refunds: creating one, and returning its money through the gateway.

A gateway may take its time to return money (an Efí devolução answers EM_PROCESSAMENTO
and settles later): such a refund stays ``pending`` and is asked about again, by the
refund's own id, until the gateway says it settled or was not made. Only the gateway's
"not made" fails a refund and releases its amount; a lost answer never does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from loguru import logger

from app.db.models import PaymentAttempt, PaymentIntent, Refund
from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.domain import rules
from app.domain.caller import Caller
from app.domain.charges import ChargeStatus
from app.domain.errors import (
    GatewayError,
    GatewayRejected,
    IllegalTransition,
    InvalidRequest,
    NotFound,
    RetryLater,
)
from app.domain.events import EventType
from app.domain.ids import looks_like_id, new_id
from app.domain.intents import IntentStatus, RefundStatus, next_refund_status
from app.gateways.port import Gateway, RefundRequest, RefundResult
from app.gateways.registry import Gateways
from app.ledger.service import refund_failed, refund_succeeded, reserve_refund
from app.payments.charge_calls import refetch_charge
from app.payments.charging import ChargeContext
from app.payments.events import record_event
from app.payments.intents import get_intent
from app.payments.repository import AttemptRepository, IntentRepository
from app.refunds.events import record_refund_event
from app.refunds.repository import RefundRepository
from app.refunds.schemas import CreateRefund

# What a gateway answered a refund: the result (settled or still pending), or its reason
# for refusing it.
RefundOutcome = RefundResult | str
NO_PAID_CHARGE = "no paid charge to refund"
_MONEY_TAKEN_STATUSES = frozenset({ChargeStatus.PAID.value, ChargeStatus.REFUNDED.value})


async def create_refund(uow: UnitOfWork, caller: Caller, command: CreateRefund) -> Refund:
    rules.check_metadata(command.metadata)
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
    refund = Refund(
        id=new_id("re"),
        merchant_id=caller.merchant_id,
        payment_intent_id=intent.id,
        livemode=intent.livemode,
        amount=amount,
        currency=intent.currency,
        status=RefundStatus.PENDING,
        reason=command.reason,
        metadata_=command.metadata,
        sequence=0,
        created_at=datetime.now(UTC),
    )
    # The merchant's balance covers it, or nothing is written.
    await reserve_refund(uow, intent, refund)
    # Reserving the amount on the intent bumps its version, so a concurrent refund loses.
    intent.amount_refunded += amount
    uow.repository(RefundRepository).add(refund)
    await record_refund_event(uow, refund, EventType.REFUND_CREATED)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_AMOUNT_REFUNDED_UPDATED)
    return refund


async def get_refund(uow: UnitOfWork, caller: Caller, refund_id: str) -> Refund:
    refund = None
    if looks_like_id("re", refund_id):
        refund = await uow.repository(RefundRepository).get(caller.merchant_id, refund_id)
    if refund is None:
        raise NotFound(f"No such refund: {refund_id!r}", param="id")
    return refund


def paid_attempt(attempts: list[PaymentAttempt]) -> PaymentAttempt | None:
    """The try whose charge took the intent's money: paid, or refunded since (by this
    very refund, perhaps, whose gateway callback came first); never a late payment,
    which is given back on its own."""
    paid = [
        a for a in attempts if a.charge_status in _MONEY_TAKEN_STATUSES and a.late_payment is None
    ]
    return paid[-1] if paid and paid[-1].gateway_reference is not None else None


async def return_money(gateway: Gateway, reference: str, refund: Refund) -> RefundOutcome:
    """Ask ``gateway`` to return the refund's amount from charge ``reference``, or how
    far it got: the refund's id is the gateway's key, so asking again is safe."""
    try:
        charge = await refetch_charge(gateway, reference)
        if charge is None:
            return f"charge {reference} is gone"
        result = await gateway.refund(RefundRequest(charge, refund.id, refund.amount))
    except GatewayRejected as exc:
        return exc.message
    except GatewayError as exc:
        raise RetryLater(f"refund {refund.id}: {exc.message}") from exc
    if result.rejected:  # Mercado Pago's "rejected": nothing went back to the payer
        return f"{gateway.name.value} rejected refund {result.gateway_reference}"
    return result


async def settle_refund(
    uow: UnitOfWork, intent: PaymentIntent, refund: Refund, outcome: RefundOutcome
) -> bool:
    """Record what the gateway said; True once the refund is final."""
    if isinstance(outcome, str):
        refund.status = next_refund_status(RefundStatus.PENDING, RefundStatus.FAILED)
        refund.failure_reason = outcome[:500]
        intent.amount_refunded -= refund.amount  # the reservation goes back
        await refund_failed(uow, refund)
        await record_refund_event(uow, refund, EventType.REFUND_FAILED)
        await record_event(uow, intent, EventType.PAYMENT_INTENT_AMOUNT_REFUNDED_UPDATED)
        return True
    # What the gateway calls it, kept from every answer: the reconciliation matches by it.
    refund.gateway_reference = outcome.gateway_reference
    if not outcome.settled:
        logger.info("refund.pending_at_gateway", refund=refund.id, amount=refund.amount)
        return False
    refund.status = next_refund_status(RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    await refund_succeeded(uow, refund)
    await record_refund_event(uow, refund, EventType.REFUND_SUCCEEDED)
    return True


async def follow_up_refund(new_uow: UnitOfWorkFactory, gateways: Gateways, refund_id: str) -> bool:
    """Ask the gateway about a pending refund, with no transaction open meanwhile, then
    record the answer if the refund is still pending; True when it became final."""
    async with new_uow() as uow:
        refund = await uow.repository(RefundRepository).find(refund_id)
        if refund is None or refund.status is not RefundStatus.PENDING:
            return False
        attempt = paid_attempt(
            await uow.repository(AttemptRepository).for_intent(refund.payment_intent_id)
        )
        if attempt is None:
            outcome: RefundOutcome = NO_PAID_CHARGE
        else:
            assert attempt.gateway_reference is not None
            gateway = gateways.require(attempt.gateway)
            outcome = await return_money(gateway, attempt.gateway_reference, refund)
    async with new_uow() as uow:
        refund = await uow.repository(RefundRepository).get_for_update(refund_id)
        if refund is None or refund.status is not RefundStatus.PENDING:
            return False
        intent = await uow.repository(IntentRepository).get_for_update(refund.payment_intent_id)
        assert intent is not None
        final = await settle_refund(uow, intent, refund, outcome)
        await uow.commit()
    return final


async def refund_charge(uow: UnitOfWork, context: ChargeContext, refund_id: str) -> None:
    """Return a refund's money through the gateway that took it. One the gateway is
    still settling stays pending: the scheduler's ``follow_up_refunds`` asks again."""
    refund = await uow.repository(RefundRepository).get_for_update(refund_id)
    if refund is None or refund.status is not RefundStatus.PENDING:
        return
    intent = await uow.repository(IntentRepository).get_for_update(refund.payment_intent_id)
    assert intent is not None
    attempt = paid_attempt(await uow.repository(AttemptRepository).for_intent(intent.id))
    if attempt is None or attempt.gateway_reference is None:
        await settle_refund(uow, intent, refund, NO_PAID_CHARGE)
        return
    gateway = context.gateways.require(attempt.gateway)
    outcome = await return_money(gateway, attempt.gateway_reference, refund)
    await settle_refund(uow, intent, refund, outcome)
