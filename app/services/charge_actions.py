"""What the charge worker does after the first charge: capture, cancel, refund.

Each runs inside the message's unit of work with the intent row locked; a gateway
that gives no usable answer means RetryLater, and the gateway's idempotency
(the charge reference, the refund id) makes the repeat harmless.
"""

from __future__ import annotations

from app.db.models import PaymentAttempt, PaymentIntent, Refund
from app.db.uow import UnitOfWork
from app.domain.charges import ChargeStatus
from app.domain.errors import GatewayError, GatewayRejected, RetryLater
from app.domain.events import EventType
from app.domain.intents import IntentStatus, RefundStatus, next_refund_status
from app.gateways.port import RefundRequest
from app.services.charge_calls import cancel_charge, refetch_charge
from app.services.charges import apply_attempt_charge, live_reference
from app.services.charging import ChargeContext, fail_intent
from app.services.events import record_event


async def capture_intent(uow: UnitOfWork, context: ChargeContext, intent_id: str) -> None:
    """Capture the authorized card charge of an intent whose capture was requested."""
    intent = await uow.intents.get_for_update(intent_id)
    if intent is None or IntentStatus(intent.status) is not IntentStatus.PROCESSING:
        return  # captured already, or moved on
    attempt = _last_with(await uow.attempts.for_intent(intent.id), ChargeStatus.AUTHORIZED.value)
    if attempt is None or attempt.gateway_reference is None:
        await fail_intent(uow, intent, "capture_failed", "no authorized charge to capture")
        return
    try:
        charge = await context.gateways.require(attempt.gateway).capture(
            attempt.gateway_reference, intent.amount_capturable
        )
    except GatewayRejected as exc:
        await fail_intent(uow, intent, "capture_failed", exc.message)
        return
    except GatewayError as exc:
        raise RetryLater(f"capture of {intent.id}: {exc.message}") from exc
    await apply_attempt_charge(uow, intent, attempt, charge)


async def cancel_live_charges(uow: UnitOfWork, context: ChargeContext, intent_id: str) -> None:
    """A canceled intent must leave no charge a payer could still pay (or a hold on a card)."""
    intent = await uow.intents.get_for_update(intent_id)
    if intent is None or IntentStatus(intent.status) is not IntentStatus.CANCELED:
        return
    for attempt in await uow.attempts.for_intent(intent.id):
        reference = live_reference(attempt)
        if reference is not None:
            charge = await cancel_charge(context.gateways.require(attempt.gateway), reference)
            if charge is not None:  # canceled, or paid a moment ago: a late payment
                await apply_attempt_charge(uow, intent, attempt, charge)


async def refund_charge(uow: UnitOfWork, context: ChargeContext, refund_id: str) -> None:
    """Return a refund's money through the gateway that took it."""
    refund = await uow.refunds.get_for_update(refund_id)
    if refund is None or RefundStatus(refund.status) is not RefundStatus.PENDING:
        return
    intent = await uow.intents.get_for_update(refund.payment_intent_id)
    assert intent is not None
    attempt = _last_with(await uow.attempts.for_intent(intent.id), ChargeStatus.PAID.value)
    if attempt is None or attempt.gateway_reference is None:
        await _refund_failed(uow, intent, refund, "no paid charge to refund")
        return
    gateway = context.gateways.require(attempt.gateway)
    try:
        charge = await refetch_charge(gateway, attempt.gateway_reference)
        if charge is None:
            raise GatewayRejected(attempt.gateway, f"charge {attempt.gateway_reference} is gone")
        result = await gateway.refund(RefundRequest(charge, refund.id, refund.amount))
    except GatewayRejected as exc:
        await _refund_failed(uow, intent, refund, exc.message)
        return
    except GatewayError as exc:
        raise RetryLater(f"refund {refund.id}: {exc.message}") from exc
    if not result.settled:
        raise RetryLater(f"refund {refund.id} is still being settled")
    refund.status = next_refund_status(RefundStatus.PENDING, RefundStatus.SUCCEEDED).value
    await record_event(uow, refund, EventType.REFUND_SUCCEEDED)


async def _refund_failed(
    uow: UnitOfWork, intent: PaymentIntent, refund: Refund, reason: str
) -> None:
    refund.status = next_refund_status(RefundStatus.PENDING, RefundStatus.FAILED).value
    refund.failure_reason = reason[:500]
    intent.amount_refunded -= refund.amount  # the reservation goes back
    await record_event(uow, refund, EventType.REFUND_FAILED)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_AMOUNT_REFUNDED_UPDATED)


def _last_with(attempts: list[PaymentAttempt], charge_status: str) -> PaymentAttempt | None:
    matching = [a for a in attempts if a.charge_status == charge_status]
    return matching[-1] if matching else None
