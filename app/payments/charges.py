"""Moving an intent to where its gateway charge says it is, with the matching event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loguru import logger

from app.db.models import PaymentAttempt, PaymentIntent
from app.db.uow import UnitOfWork
from app.domain.charge_views import ChargeApplied as ChargeApplied
from app.domain.charge_views import capture_pending, is_behind, judge
from app.domain.charges import LIVE_CHARGE_STATUSES, AttemptOutcome, ChargeStatus, LatePayment
from app.domain.events import EventType
from app.domain.ids import new_id
from app.domain.intents import IntentStatus, next_intent_status
from app.gateways.port import Charge, ChargeAttempt, GatewayName
from app.ledger.service import post_charge
from app.payments.events import record_event
from app.payments.repository import AttemptRepository

_EVENT_FOR_STATUS: dict[IntentStatus, EventType] = {
    IntentStatus.REQUIRES_ACTION: EventType.PAYMENT_INTENT_REQUIRES_ACTION,
    IntentStatus.REQUIRES_CAPTURE: EventType.PAYMENT_INTENT_AMOUNT_CAPTURABLE_UPDATED,
    IntentStatus.SUCCEEDED: EventType.PAYMENT_INTENT_SUCCEEDED,
    IntentStatus.FAILED: EventType.PAYMENT_INTENT_PAYMENT_FAILED,
}


def attempt_key(intent_id: str, gateway: GatewayName, number: int) -> str:
    """The gateway idempotency key of one attempt: a retry of it never charges twice."""
    return f"{intent_id}-{gateway.value}-{number}"


async def start_processing(uow: UnitOfWork, intent: PaymentIntent) -> None:
    """Mark the intent as being charged before the gateway is called."""
    intent.status = next_intent_status(intent.status, IntentStatus.PROCESSING)
    await record_event(uow, intent, EventType.PAYMENT_INTENT_PROCESSING)


async def record_attempt(
    uow: UnitOfWork,
    intent: PaymentIntent,
    gateway: GatewayName,
    number: int,
    result: ChargeAttempt,
    routing: dict[str, Any] | None = None,
) -> ChargeApplied:
    """Store one gateway call and move the intent where its charge says."""
    charge = result.charge
    uow.repository(AttemptRepository).add(
        PaymentAttempt(
            id=new_id("att"),
            payment_intent_id=intent.id,
            gateway=gateway.value,
            number=number,
            idempotency_key=attempt_key(intent.id, gateway, number),
            gateway_reference=charge.reference if charge else None,
            outcome=result.outcome,
            charge_status=charge.status if charge else None,
            gateway_status=charge.gateway_status if charge else None,
            amount=intent.amount,
            error=result.reason,
            routing=routing,
        )
    )
    return (
        ChargeApplied.NOTHING_TO_DO if charge is None else await apply_charge(uow, intent, charge)
    )


def note_charge(attempt: PaymentAttempt, charge: Charge) -> None:
    """What the gateway now says about the attempt's charge."""
    attempt.gateway_reference = charge.reference
    attempt.outcome = charge.outcome
    attempt.charge_status = charge.status
    attempt.gateway_status = charge.gateway_status


def live_reference(attempt: PaymentAttempt) -> str | None:
    """The reference of the try's charge if a payer could still pay it (or it holds money
    on a card), as last seen."""
    live = attempt.charge_status in LIVE_CHARGE_STATUSES
    return attempt.gateway_reference if live else None


def behind_attempt(attempt: PaymentAttempt, charge: Charge) -> bool:
    """The view is older than what the try last recorded (a re-fetch that waited for
    the row lock while the worker captured, say): it must not rewrite the try."""
    recorded = ChargeStatus(attempt.charge_status) if attempt.charge_status else None
    return is_behind(recorded, charge.status)


def note_not_found(attempt: PaymentAttempt) -> None:
    """An unknown try the gateway has no charge for: it certainly did nothing."""
    attempt.outcome = AttemptOutcome.NOT_ATTEMPTED
    attempt.error = f"{attempt.error}; not found at the gateway by its key"


async def apply_attempt_charge(
    uow: UnitOfWork, intent: PaymentIntent, attempt: PaymentAttempt, charge: Charge
) -> ChargeApplied:
    """Record what the gateway now says about a try's charge and move the intent there.

    A payment or card hold the intent cannot take (it ended, or a later try replaced
    this charge: one live charge per intent) is marked to be given back automatically.
    A view behind what the try recorded changes nothing."""
    if behind_attempt(attempt, charge):
        logger.info(
            "charge.stale_view", intent=intent.id, attempt=attempt.id, seen=charge.status.value
        )
        return ChargeApplied.STALE
    note_charge(attempt, charge)
    holds_money = charge.status in (ChargeStatus.PAID, ChargeStatus.AUTHORIZED)
    replaced = holds_money and await uow.repository(AttemptRepository).has_later(attempt)
    applied = ChargeApplied.LATE_PAYMENT if replaced else await apply_charge(uow, intent, charge)
    if applied is ChargeApplied.LATE_PAYMENT and attempt.late_payment is None:
        logger.error("charge.late_payment", intent=intent.id, attempt=attempt.id)
        attempt.late_payment = LatePayment.REFUND_DUE
    return applied


async def apply_charge(uow: UnitOfWork, intent: PaymentIntent, charge: Charge) -> ChargeApplied:
    """Move the intent where the charge says, unless the intent already knows better
    (app/domain/charge_views.py). A payment that succeeds posts its ledger entry in the
    same unit of work, once per intent."""
    current = intent.status
    verdict = judge(current, capture_pending(current, intent.amount_to_capture), charge.status)
    target = verdict.target
    if target is None:
        return verdict.applied
    _fill(intent, target, charge)
    intent.status = target
    if target is IntentStatus.SUCCEEDED:
        await post_charge(uow, intent, charge.gateway.value, datetime.now(UTC))
    await record_event(uow, intent, _EVENT_FOR_STATUS[target])
    return ChargeApplied.MOVED


def _fill(intent: PaymentIntent, target: IntentStatus, charge: Charge) -> None:
    if target is IntentStatus.REQUIRES_ACTION:
        intent.next_action = {
            "type": "pix_display_qr_code",
            "pix_display_qr_code": {
                "data": charge.pix_copy_paste,
                "expires_at": int(charge.expires_at.timestamp()) if charge.expires_at else None,
            },
        }
    elif target is IntentStatus.REQUIRES_CAPTURE:
        intent.amount_capturable = charge.amount
    elif target is IntentStatus.SUCCEEDED:
        intent.amount_received = charge.amount_paid or charge.amount
        intent.amount_capturable = 0
        intent.next_action = None
    else:
        intent.last_payment_error = {
            "code": "payment_declined",
            "gateway": charge.gateway.value,
            "decline_code": charge.status_detail or charge.gateway_status,
        }
