"""Applying a verified gateway callback: dedupe, check, move the intent, all in one
transaction. The charge passed in was re-fetched from the gateway: a callback only
says "look again", so nothing in its body is believed."""

from __future__ import annotations

from loguru import logger

from app.db.models import GatewayCallback, PaymentAttempt, PaymentIntent
from app.db.uow import UnitOfWork
from app.domain.charge_views import ChargeMoney, IntentMoney, reconciliation_mismatch
from app.domain.errors import ServiceUnavailable
from app.domain.events import EventType
from app.gateways.port import CallbackEvent, Charge, GatewayName
from app.payments.charges import apply_attempt_charge, behind_attempt, note_charge
from app.payments.events import record_alert
from app.payments.repository import AttemptRepository, CallbackRepository, IntentRepository
from app.tracing import AGGREGATE_ID, continue_trace

DUPLICATE = "duplicate"
UNKNOWN_CHARGE = "unknown_charge"
AMOUNT_MISMATCH = "amount_mismatch"


async def apply_callback(
    uow: UnitOfWork,
    gateway: GatewayName,
    event: CallbackEvent,
    charge: Charge | None,
    payload: bytes,
) -> str:
    """Return what became of the callback; a resent one changes nothing."""
    stored = GatewayCallback(
        gateway=gateway.value,
        event_key=event.key,
        reference=event.reference,
        payload=payload,
        result="received",
    )
    if not await uow.repository(CallbackRepository).record(stored):
        return DUPLICATE
    result, detail = await _apply(uow, gateway, event, charge)
    await uow.repository(CallbackRepository).settle(gateway.value, event.key, result, detail)
    logger.info("callback.applied", gateway=gateway.value, reference=event.reference, result=result)
    return result


async def _apply(
    uow: UnitOfWork, gateway: GatewayName, event: CallbackEvent, charge: Charge | None
) -> tuple[str, str | None]:
    if charge is None or charge.reference != event.reference:
        return UNKNOWN_CHARGE, "the gateway does not know this charge"
    attempt = await uow.repository(AttemptRepository).by_reference(gateway.value, charge.reference)
    intent = await _intent_of(uow, attempt)
    if attempt is None or intent is None:
        # The gateway often calls back before the charge worker has committed the
        # attempt it just made: refuse for now (nothing stored), the gateway resends.
        raise ServiceUnavailable(
            f"{gateway.value} charge {charge.reference} is not matched to an intent yet"
        )
    stale = behind_attempt(attempt, charge)
    # What the callback causes belongs to the intent's trace, not the gateway's request.
    with continue_trace(intent.traceparent, "callback apply", attributes={AGGREGATE_ID: intent.id}):
        mismatch = None if stale else _amount_mismatch(intent, attempt, charge)
        if mismatch is not None:
            note_charge(attempt, charge)
            await _alert(uow, charge, intent, mismatch)
            return AMOUNT_MISMATCH, mismatch
        # A late payment is marked for the scheduler, which refunds it and alerts.
        applied = await apply_attempt_charge(uow, intent, attempt, charge)
        return applied.value, None


async def _intent_of(uow: UnitOfWork, attempt: PaymentAttempt | None) -> PaymentIntent | None:
    return (
        None
        if attempt is None
        else await uow.repository(IntentRepository).get_for_update(attempt.payment_intent_id)
    )


def _amount_mismatch(intent: PaymentIntent, attempt: PaymentAttempt, charge: Charge) -> str | None:
    """Compared with what the intent authorized, asked to capture and refunded."""
    known = IntentMoney(
        amount=intent.amount,
        currency=intent.currency,
        amount_to_capture=intent.amount_to_capture,
        amount_refunded=intent.amount_refunded,
    )
    seen = ChargeMoney(charge.status, charge.amount, charge.amount_paid, charge.amount_refunded)
    return reconciliation_mismatch(known, seen, late_payment=attempt.late_payment is not None)


async def _alert(uow: UnitOfWork, charge: Charge, intent: PaymentIntent, reason: str) -> None:
    """Tell operators through the alerts topic; the money needs a human."""
    logger.error(
        "callback.reconciliation_mismatch",
        gateway=charge.gateway.value,
        reference=charge.reference,
        reason=reason,
    )
    await record_alert(
        uow,
        EventType.ALERT_RECONCILIATION_MISMATCH,
        intent,
        {
            "gateway": charge.gateway.value,
            "reference": charge.reference,
            "gateway_status": charge.gateway_status,
            "amount_charged": charge.amount,
            "amount_paid": charge.amount_paid,
            "reason": reason,
        },
    )
