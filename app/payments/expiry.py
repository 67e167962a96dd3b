"""Ending PIX intents nobody paid in time: cancel the charge at the gateway, then the intent.

The gateway calls happen before the transaction that moves the intent, so no row lock
waits on a gateway; each step is safe to repeat, and the next run retries what failed.
"""

from __future__ import annotations

from app.db.uow import UnitOfWorkFactory
from app.domain.charges import UNPAYABLE_CHARGE_STATUSES
from app.domain.intents import CancellationReason, IntentStatus
from app.gateways.port import Charge
from app.gateways.registry import Gateways
from app.payments.charge_calls import cancel_charge
from app.payments.charges import apply_attempt_charge, live_reference
from app.payments.intents import mark_canceled
from app.payments.repository import AttemptRepository, IntentRepository


async def expire_intent(new_uow: UnitOfWorkFactory, gateways: Gateways, intent_id: str) -> bool:
    """Cancel a PIX intent past its expiry and the charge a payer could still pay.

    A charge the gateway reports paid instead wins: the intent takes the payment.
    True once the intent no longer waits for a payer; RetryLater if a gateway cannot
    answer (nothing moves)."""
    async with new_uow() as uow:
        live = {
            attempt.id: (attempt.gateway, reference)
            for attempt in await uow.repository(AttemptRepository).for_intent(intent_id)
            if (reference := live_reference(attempt)) is not None
        }
    seen: dict[str, Charge | None] = {
        attempt_id: await cancel_charge(gateways.require(gateway), reference)
        for attempt_id, (gateway, reference) in live.items()
    }
    async with new_uow() as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        if intent is None:
            return False
        attempts = {a.id: a for a in await uow.repository(AttemptRepository).for_intent(intent_id)}
        for attempt_id, charge in seen.items():
            if charge is not None:  # None: the gateway forgot it, so nobody can pay it
                await apply_attempt_charge(uow, intent, attempts[attempt_id], charge)
        unpaid = all(c is None or c.status in UNPAYABLE_CHARGE_STATUSES for c in seen.values())
        waiting = intent.status is IntentStatus.REQUIRES_ACTION
        if waiting and unpaid:
            await mark_canceled(uow, intent, CancellationReason.EXPIRED)
        await uow.commit()
    return intent.status is not IntentStatus.REQUIRES_ACTION
