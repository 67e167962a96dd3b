"""What the charge worker does after the first charge: capture and cancel (refunds:
app/refunds/service.py).

Each runs inside the message's unit of work with the intent row locked; a gateway
that gives no usable answer means RetryLater, and the gateway's idempotency
(the charge reference, the refund id) makes the repeat harmless.
"""

from __future__ import annotations

from app.db.models import PaymentAttempt
from app.db.uow import UnitOfWork
from app.domain.charge_views import capture_pending
from app.domain.charges import ChargeStatus
from app.domain.errors import GatewayError, GatewayRejected, RetryLater
from app.domain.intents import IntentStatus
from app.gateways.port import Charge, Gateway
from app.payments.charge_calls import cancel_charge, refetch_charge
from app.payments.charges import apply_attempt_charge, live_reference
from app.payments.charging import ChargeContext, fail_intent
from app.payments.repository import AttemptRepository, IntentRepository


async def capture_intent(uow: UnitOfWork, context: ChargeContext, intent_id: str) -> None:
    """Capture the authorized card charge of an intent whose capture was requested."""
    intent = await uow.repository(IntentRepository).get_for_update(intent_id)
    amount = intent.amount_to_capture if intent else None
    if intent is None or not capture_pending(intent.status, amount):
        return  # captured already, or moved on
    attempt = _last_with(
        await uow.repository(AttemptRepository).for_intent(intent.id), ChargeStatus.AUTHORIZED.value
    )
    if attempt is None or attempt.gateway_reference is None:
        await fail_intent(uow, intent, "capture_failed", "no authorized charge to capture")
        return
    gateway = context.gateways.require(attempt.gateway)
    try:
        charge = await gateway.capture(attempt.gateway_reference, amount)
    except GatewayRejected as exc:
        captured = await _captured_already(gateway, attempt.gateway_reference)
        if captured is None:
            await fail_intent(uow, intent, "capture_failed", exc.message)
            return
        charge = captured
    except GatewayError as exc:
        raise RetryLater(f"capture of {intent.id}: {exc.message}") from exc
    await apply_attempt_charge(uow, intent, attempt, charge)


async def _captured_already(gateway: Gateway, reference: str) -> Charge | None:
    """A refused capture may be a repeat of one that went through (a redelivered message
    whose first run captured, then died before committing): the charge is paid then."""
    charge = await refetch_charge(gateway, reference)
    return charge if charge is not None and charge.status is ChargeStatus.PAID else None


async def cancel_live_charges(uow: UnitOfWork, context: ChargeContext, intent_id: str) -> None:
    """A canceled intent must leave no charge a payer could still pay (or a hold on a card)."""
    intent = await uow.repository(IntentRepository).get_for_update(intent_id)
    if intent is None or intent.status is not IntentStatus.CANCELED:
        return
    for attempt in await uow.repository(AttemptRepository).for_intent(intent.id):
        reference = live_reference(attempt)
        if reference is not None:
            charge = await cancel_charge(context.gateways.require(attempt.gateway), reference)
            if charge is not None:  # canceled, or paid a moment ago: a late payment
                await apply_attempt_charge(uow, intent, attempt, charge)


def _last_with(attempts: list[PaymentAttempt], charge_status: str) -> PaymentAttempt | None:
    matching = [a for a in attempts if a.charge_status == charge_status]
    return matching[-1] if matching else None
