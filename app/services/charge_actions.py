"""What the charge worker does after the first charge: capture, cancel, refund.

Each runs inside the message's unit of work with the intent row locked; a gateway
that gives no usable answer means RetryLater, and the gateway's idempotency
(the charge reference, the refund id) makes the repeat harmless.
"""

from __future__ import annotations

from loguru import logger

from app.db.models import PaymentAttempt, PaymentIntent, Refund
from app.db.uow import UnitOfWork
from app.domain.charges import ChargeStatus
from app.domain.errors import GatewayError, GatewayRejected, RetryLater
from app.domain.events import EventType
from app.domain.intents import IntentStatus, RefundStatus, next_refund_status
from app.gateways.port import Charge, Gateway, RefundRequest
from app.services.charges import apply_charge, note_charge
from app.services.charging import ChargeContext, fail_intent, gateway_for
from app.services.events import record_event

_LIVE = frozenset({ChargeStatus.AWAITING_PAYMENT.value, ChargeStatus.AUTHORIZED.value})


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
        charge = await gateway_for(context, attempt.gateway).capture(
            attempt.gateway_reference, intent.amount_capturable
        )
    except GatewayRejected as exc:
        await fail_intent(uow, intent, "capture_failed", exc.message)
        return
    except GatewayError as exc:
        raise RetryLater(f"capture of {intent.id}: {exc.message}") from exc
    note_charge(attempt, charge)
    await apply_charge(uow, intent, charge)


async def cancel_live_charges(uow: UnitOfWork, context: ChargeContext, intent_id: str) -> None:
    """A canceled intent must leave no charge a payer could still pay (or a hold on a card)."""
    intent = await uow.intents.get_for_update(intent_id)
    if intent is None or IntentStatus(intent.status) is not IntentStatus.CANCELED:
        return
    for attempt in await uow.attempts.for_intent(intent.id):
        if attempt.charge_status in _LIVE and attempt.gateway_reference is not None:
            await _cancel(uow, context, intent, attempt)


async def _cancel(
    uow: UnitOfWork, context: ChargeContext, intent: PaymentIntent, attempt: PaymentAttempt
) -> None:
    gateway = gateway_for(context, attempt.gateway)
    assert attempt.gateway_reference is not None
    try:
        charge = await gateway.cancel(attempt.gateway_reference)
    except GatewayRejected:
        # Refused: most likely paid a moment ago. Record what the gateway says now.
        found = await _refetch(gateway, attempt.gateway_reference)
        if found is None:
            return
        charge = found
    except GatewayError as exc:
        raise RetryLater(f"cancel of {attempt.id}: {exc.message}", keep_progress=True) from exc
    note_charge(attempt, charge)
    if charge.status is ChargeStatus.PAID:
        # The automatic refund of such late payments is not built yet: tell a person.
        logger.error("charge.paid_after_cancel", intent=intent.id, attempt=attempt.id)


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
    gateway = gateway_for(context, attempt.gateway)
    try:
        charge = await _refetch(gateway, attempt.gateway_reference)
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


async def _refetch(gateway: Gateway, reference: str) -> Charge | None:
    try:
        return await gateway.get_charge(reference)
    except GatewayError as exc:
        raise RetryLater(f"cannot read {reference}: {exc.message}") from exc


def _last_with(attempts: list[PaymentAttempt], charge_status: str) -> PaymentAttempt | None:
    matching = [a for a in attempts if a.charge_status == charge_status]
    return matching[-1] if matching else None
