"""Refunding payments an intent could not take (see ``apply_attempt_charge``): PIX
devolução or card refund through the gateway that took the money, recorded on the
try and announced to operators.

The try's own id is the gateway's idempotency key for the refund, so a repeat (the
next run after a crash, a second detection of the same payment) refunds once. The
gateway is called before the transaction that records the result.
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.uow import UnitOfWork
from app.domain.charges import LatePayment
from app.domain.errors import GatewayError, GatewayRejected, RetryLater
from app.domain.events import EventType
from app.gateways.port import Gateway, RefundRequest, RefundResult
from app.gateways.registry import Gateways
from app.services.charge_calls import refetch_charge
from app.services.events import record_alert


async def refund_late_payment(
    sessions: async_sessionmaker[AsyncSession], gateways: Gateways, attempt_id: str
) -> bool:
    """True once the payment is settled: refunded, or refused by the gateway (then a
    person must return it). RetryLater while the gateway cannot answer or settle."""
    async with UnitOfWork(sessions) as uow:
        attempt = await uow.attempts.find(attempt_id)
        if attempt is None or attempt.late_payment != LatePayment.REFUND_DUE:
            return False
        gateway, reference = gateways.require(attempt.gateway), attempt.gateway_reference
    assert reference is not None  # only a charge with a reference can have been paid
    outcome = await _refund(gateway, reference, attempt_id)
    async with UnitOfWork(sessions) as uow:
        attempt = await uow.attempts.find(attempt_id)
        assert attempt is not None
        intent = await uow.intents.get_for_update(attempt.payment_intent_id)
        assert intent is not None
        details: dict[str, Any] = {
            "attempt": attempt.id,
            "gateway": attempt.gateway,
            "reference": reference,
        }
        if isinstance(outcome, RefundResult):
            attempt.late_payment = LatePayment.REFUNDED.value
            attempt.late_refund_reference = outcome.gateway_reference
            alert = EventType.ALERT_LATE_PAYMENT_REFUNDED
            details |= {"amount": outcome.amount, "refund_reference": outcome.gateway_reference}
        else:
            attempt.late_payment = LatePayment.REFUND_FAILED.value
            attempt.error = f"{attempt.error or ''}; late payment not refunded: {outcome}"[:1000]
            alert = EventType.ALERT_RECONCILIATION_MISMATCH
            details["reason"] = f"a late payment could not be refunded: {outcome}"
        logger.warning("charge.late_payment_settled", result=attempt.late_payment, **details)
        await record_alert(uow, alert, intent, details)
        await uow.commit()
    return True


async def _refund(gateway: Gateway, reference: str, attempt_id: str) -> RefundResult | str:
    """The settled refund, or the gateway's reason for refusing it."""
    charge = await refetch_charge(gateway, reference)
    if charge is None:
        return f"{gateway.name.value} no longer knows charge {reference}"
    paid = charge.amount_paid or charge.amount
    try:
        result = await gateway.refund(RefundRequest(charge, attempt_id, paid))
    except GatewayRejected as exc:
        return exc.message
    except GatewayError as exc:
        raise RetryLater(f"refund of {reference}: {exc.message}") from exc
    if not result.settled:
        raise RetryLater(f"the refund of {reference} is still being settled")
    return result
