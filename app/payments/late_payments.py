"""Giving back money an intent could not take (see ``apply_attempt_charge``): a PIX
devolução or card refund through the gateway that took it, or the cancel of a card
authorization that holds it, recorded on the try and announced to operators.

The try's own id is the gateway's idempotency key for the refund, so a repeat (the
next run after a crash, a second detection of the same payment) refunds once. The
gateway is called before the transaction that records the result.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from app.db.uow import UnitOfWorkFactory
from app.domain.charges import UNPAYABLE_CHARGE_STATUSES, ChargeStatus, LatePayment
from app.domain.errors import GatewayError, GatewayRejected, RetryLater
from app.domain.events import EventType
from app.gateways.port import Charge, Gateway, RefundReader, RefundRequest, RefundResult
from app.gateways.registry import Gateways
from app.payments.charge_calls import cancel_charge, refetch_charge
from app.payments.events import record_alert
from app.payments.repository import AttemptRepository, IntentRepository


async def refund_late_payment(
    new_uow: UnitOfWorkFactory, gateways: Gateways, attempt_id: str
) -> bool:
    """True once the payment is settled: refunded, or refused by the gateway (then a
    person must return it). False while a refund is in progress (remembered, and read
    back next time where the gateway can); RetryLater while the gateway cannot answer."""
    async with new_uow() as uow:
        attempt = await uow.repository(AttemptRepository).find(attempt_id)
        if attempt is None or attempt.late_payment != LatePayment.REFUND_DUE:
            return False
        gateway, reference = gateways.require(attempt.gateway), attempt.gateway_reference
        in_progress = attempt.late_refund_reference
    assert reference is not None  # only a charge with a reference can have been paid
    if in_progress is not None and isinstance(gateway, RefundReader):
        outcome = await _read_back(gateway, reference, in_progress)
    else:
        outcome = await _refund(gateway, reference, attempt_id)
    async with new_uow() as uow:
        attempt = await uow.repository(AttemptRepository).find(attempt_id)
        assert attempt is not None
        if isinstance(outcome, RefundResult) and not outcome.settled:
            # Followed by reading it back next time, never by sending it again.
            attempt.late_refund_reference = outcome.gateway_reference
            await uow.commit()
            return False
        intent = await uow.repository(IntentRepository).get_for_update(attempt.payment_intent_id)
        assert intent is not None
        details: dict[str, Any] = {
            "attempt": attempt.id,
            "gateway": attempt.gateway,
            "reference": reference,
        }
        if isinstance(outcome, RefundResult):
            attempt.late_payment = LatePayment.REFUNDED
            attempt.late_refund_reference = outcome.gateway_reference
            alert = EventType.ALERT_LATE_PAYMENT_REFUNDED
            details |= {"amount": outcome.amount, "refund_reference": outcome.gateway_reference}
        else:
            attempt.late_payment = LatePayment.REFUND_FAILED
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
    if charge.status is ChargeStatus.AUTHORIZED:
        charge = await _release_hold(gateway, charge)
        if charge.status in UNPAYABLE_CHARGE_STATUSES:
            return RefundResult(attempt_id, charge.reference, charge.amount, settled=True)
    paid = charge.amount_paid or charge.amount
    try:
        result = await gateway.refund(RefundRequest(charge, attempt_id, paid))
    except GatewayRejected as exc:
        return exc.message
    except GatewayError as exc:
        raise RetryLater(f"refund of {reference}: {exc.message}") from exc
    return _judged(gateway, result)


async def _read_back(
    gateway: RefundReader, reference: str, refund_reference: str
) -> RefundResult | str:
    try:
        result = await gateway.get_refund(reference, refund_reference)
    except GatewayError as exc:
        raise RetryLater(f"cannot read refund {refund_reference}: {exc.message}") from exc
    return _judged(gateway, result)


def _judged(gateway: Gateway | RefundReader, result: RefundResult) -> RefundResult | str:
    """A refund the gateway rejected is its reason; one in progress or settled, itself."""
    if result.rejected:
        return f"{gateway.name.value} rejected refund {result.gateway_reference}"
    return result


async def _release_hold(gateway: Gateway, charge: Charge) -> Charge:
    """Cancel a card authorization; what the gateway then says (captured meanwhile: paid,
    and refunded instead)."""
    after = await cancel_charge(gateway, charge.reference)
    if after is None or after.status not in (*UNPAYABLE_CHARGE_STATUSES, ChargeStatus.PAID):
        raise RetryLater(f"the hold {charge.reference} is not released yet")
    return after
