"""Charging one intent: pick a gateway, call it, remember the try, retry or fall back.

Runs in the charge worker, one message at a time per intent (the intent row is
locked). Every try is a ``payment_attempts`` row whose number gives the gateway
idempotency key, so a redelivered message repeats a try under the same key and
the gateway answers with the charge it already made.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from loguru import logger

from app.db.models import PaymentAttempt, PaymentIntent
from app.db.uow import UnitOfWork
from app.domain.alerts import alert, gateway_about
from app.domain.charges import UNPAYABLE_CHARGE_STATUSES, AttemptOutcome, ChargeStatus
from app.domain.errors import RetryLater
from app.domain.events import EventType
from app.domain.intents import (
    CaptureMethod,
    IntentStatus,
    PaymentMethodType,
    next_intent_status,
)
from app.domain.routing import choose_gateway
from app.gateways import metrics
from app.gateways.health import GatewayHealth
from app.gateways.port import Charge, ChargeAttempt, ChargeRequest, GatewayName, Payer
from app.gateways.registry import Gateways
from app.merchants.repository import MerchantRepository
from app.payments.charge_calls import cancel_charge, refetch_charge
from app.payments.charges import (
    ChargeApplied,
    apply_attempt_charge,
    attempt_key,
    live_reference,
    note_not_found,
    record_attempt,
    start_processing,
)
from app.payments.events import record_alert, record_event
from app.payments.repository import AttemptRepository, IntentRepository
from app.security import DocumentCipher

# Statuses in which a charge is still being decided: look again later.
_UNSETTLED = frozenset({ChargeStatus.PROCESSING, ChargeStatus.UNKNOWN})
_CHARGEABLE = frozenset({IntentStatus.PENDING, IntentStatus.PROCESSING})


@dataclass(frozen=True)
class ChargeContext:
    gateways: Gateways
    health: GatewayHealth
    priority: list[str]
    cipher: DocumentCipher
    notification_url: str | None
    pix_expires_in_seconds: int
    # How long to wait when every remaining gateway's circuit is open.
    health_wait_seconds: int


async def charge_intent(uow: UnitOfWork, context: ChargeContext, intent_id: str) -> None:
    """Take the intent one step further; raise RetryLater to be called again."""
    intent = await uow.repository(IntentRepository).get_for_update(intent_id)
    if intent is None or intent.status not in _CHARGEABLE:
        return  # charged already, canceled, or not ours to charge
    if intent.amount_to_capture is not None:
        return  # authorized and its capture requested: the capture message's to finish
    attempts = await uow.repository(AttemptRepository).for_intent(intent.id)
    unknown = attempts and attempts[-1].outcome == AttemptOutcome.UNKNOWN
    if unknown and await _settled_by_lookup(uow, context, intent, attempts[-1]):
        return
    await _try_next_gateway(uow, context, intent, attempts)


async def _settled_by_lookup(
    uow: UnitOfWork, context: ChargeContext, intent: PaymentIntent, attempt: PaymentAttempt
) -> bool:
    """Ask the gateway whether an unknown try charged; True if that settled the intent.

    Only authoritative answers count: a read by the charge's reference, or the try itself
    repeated under its own idempotency key (the gateway answers with the charge that key
    made, or makes it now: either way one charge). A search by key may lag behind new
    charges (Mercado Pago's does), so an empty one never reads as "nothing was charged"."""
    gateway = context.gateways.require(attempt.gateway)
    if attempt.gateway_reference is None:
        charge = await _repeat_try(uow, context, intent, attempt)
        if charge is None:
            return True  # refused outright: the intent failed
    else:
        found = await refetch_charge(gateway, attempt.gateway_reference)
        if found is None:
            note_not_found(attempt)
            return False
        charge = found
    applied = await apply_attempt_charge(uow, intent, attempt, charge)
    if charge.status in _UNSETTLED:
        raise RetryLater(
            f"{attempt.gateway} is still deciding {charge.reference}", keep_progress=True
        )
    # A charge found canceled or expired took no money: go on to the next try.
    return applied is not ChargeApplied.NOTHING_TO_DO


async def _repeat_try(
    uow: UnitOfWork, context: ChargeContext, intent: PaymentIntent, attempt: PaymentAttempt
) -> Charge | None:
    """The same request under the same key: the charge it made, or None after a refusal
    (then no charge exists under that key, and the intent fails as for any refusal)."""
    gateway = GatewayName(attempt.gateway)
    result = await context.gateways.require(gateway).create_charge(
        _request(context, intent, gateway, attempt.number)
    )
    if result.charge is not None:
        return result.charge
    if result.outcome is not AttemptOutcome.DECLINED:
        raise RetryLater(
            f"{gateway.value} still gives no answer: {result.reason}", keep_progress=True
        )
    attempt.outcome = AttemptOutcome.DECLINED
    attempt.error = result.reason
    await fail_intent(uow, intent, "gateway_refused", result.reason or "refused")
    return None


async def _try_next_gateway(
    uow: UnitOfWork, context: ChargeContext, intent: PaymentIntent, attempts: list[PaymentAttempt]
) -> None:
    method = PaymentMethodType(intent.method_type)
    if method is PaymentMethodType.PIX and await _paid_while_abandoning(
        uow, context, intent, attempts
    ):
        return
    merchant = await uow.repository(MerchantRepository).get(intent.merchant_id)
    priority = (merchant.gateway_priority if merchant else None) or context.priority
    configured = [g for g in priority if context.gateways.get(GatewayName(g))]
    decision = choose_gateway(
        configured,
        supports={g for g in configured if context.gateways.require(g).supports(method)},
        available=await context.health.available(configured),
        tries=Counter(a.gateway for a in attempts),
    )
    metrics.ROUTING_DECISIONS.labels(decision.gateway or "none", decision.reason).inc()
    if decision.exhausted:
        await fail_intent(uow, intent, "all_gateways_failed", decision.reason, alert=True)
        return
    if decision.gateway is None:
        raise RetryLater(decision.reason, delay_seconds=context.health_wait_seconds)
    if intent.status is IntentStatus.PENDING:
        await start_processing(uow, intent)
    name = GatewayName(decision.gateway)
    number = len(attempts) + 1
    routing = {**decision.as_record(), "health": await context.health.seen(configured)}
    started = time.perf_counter()
    result = await context.gateways.require(name).create_charge(
        _request(context, intent, name, number)
    )
    seconds = time.perf_counter() - started
    metrics.ATTEMPTS.labels(name.value, result.outcome.value).inc()
    applied = await record_attempt(uow, intent, name, number, result, routing)
    await _after_attempt(uow, context, intent, name, result, applied, seconds)


async def _paid_while_abandoning(
    uow: UnitOfWork, context: ChargeContext, intent: PaymentIntent, attempts: list[PaymentAttempt]
) -> bool:
    """PIX keeps one payable charge per intent: cancel what earlier tries left live
    before issuing another, recording each on its try. True if the intent moved
    instead (a charge was paid meanwhile: the intent took it). A cancel that does not
    go through retries the message, and nothing new is issued until it does."""
    for attempt in attempts:
        reference = live_reference(attempt)
        if reference is None:
            continue
        charge = await cancel_charge(context.gateways.require(attempt.gateway), reference)
        if charge is None:  # the gateway forgot it: nobody can pay it
            continue
        logger.info("charge.abandoned", intent=intent.id, attempt=attempt.id, status=charge.status)
        applied = await apply_attempt_charge(uow, intent, attempt, charge)
        if applied is ChargeApplied.MOVED:
            return True
        gone = charge.status in UNPAYABLE_CHARGE_STATUSES
        if not gone and applied is not ChargeApplied.LATE_PAYMENT:  # late: refunded later
            raise RetryLater(
                f"{attempt.gateway} still shows {reference} as {charge.gateway_status}",
                keep_progress=True,
            )
    return False


async def _after_attempt(
    uow: UnitOfWork,
    context: ChargeContext,
    intent: PaymentIntent,
    gateway: GatewayName,
    result: ChargeAttempt,
    applied: ChargeApplied,
    seconds: float,
) -> None:
    logger.info(
        "charge.attempt",
        intent=intent.id,
        gateway=gateway.value,
        outcome=result.outcome.value,
        reason=result.reason,
    )
    if result.outcome in (AttemptOutcome.SUCCEEDED, AttemptOutcome.DECLINED):
        if await context.health.record_success(gateway.value, seconds):
            await _alert_circuit(uow, context, intent, gateway, None)
    elif await context.health.record_failure(gateway.value, seconds):
        await _alert_circuit(uow, context, intent, gateway, result.reason or result.outcome.value)
    unsettled = result.charge is not None and result.charge.status in _UNSETTLED
    if result.outcome in (AttemptOutcome.NOT_ATTEMPTED, AttemptOutcome.UNKNOWN) or unsettled:
        raise RetryLater(f"{gateway.value}: {result.outcome.value}", keep_progress=True)
    if applied is ChargeApplied.NOTHING_TO_DO:
        # Refused outright (a 4xx), or a charge born canceled: no fallback for a refusal.
        charge_status = result.charge.gateway_status if result.charge else "refused"
        reason = result.reason or f"the gateway answered {charge_status}"
        await fail_intent(uow, intent, "gateway_refused", reason)


def _request(
    context: ChargeContext, intent: PaymentIntent, gateway: GatewayName, number: int
) -> ChargeRequest:
    return ChargeRequest(
        intent_id=intent.id,
        idempotency_key=attempt_key(intent.id, gateway, number),
        amount=intent.amount,
        method=PaymentMethodType(intent.method_type),
        payer=_payer(context, intent),
        description=intent.description,
        card_token=intent.card_token,
        payment_method_id=intent.card_payment_method_id,
        issuer_id=intent.card_issuer_id,
        capture=intent.capture_method == CaptureMethod.AUTOMATIC.value,
        pix_expires_in_seconds=context.pix_expires_in_seconds,
        pix_expires_at=intent.expires_at,
        notification_url=context.notification_url,
    )


def _payer(context: ChargeContext, intent: PaymentIntent) -> Payer | None:
    if intent.payer_name is None:
        return None
    document = None
    if intent.payer_document_encrypted is not None:
        document = context.cipher.decrypt(
            intent.payer_document_encrypted, merchant_id=intent.merchant_id
        )
    return Payer(
        name=intent.payer_name,
        document_type=intent.payer_document_type,
        document_number=document,
    )


async def fail_intent(
    uow: UnitOfWork, intent: PaymentIntent, code: str, message: str, *, alert: bool = False
) -> None:
    intent.status = next_intent_status(intent.status, IntentStatus.FAILED)
    intent.last_payment_error = {"code": code, "message": message[:500]}
    await record_event(uow, intent, EventType.PAYMENT_INTENT_PAYMENT_FAILED)
    if alert:
        await record_alert(
            uow, EventType.ALERT_PAYMENT_FAILED_ALL_GATEWAYS, intent, {"reason": message[:500]}
        )


async def _alert_circuit(
    uow: UnitOfWork,
    context: ChargeContext,
    intent: PaymentIntent,
    gateway: GatewayName,
    error: str | None,
) -> None:
    """One alert per transition of the circuit: opened (with the error), or closed."""
    facts = {
        "gateway": gateway.value,
        "payment_intent": intent.id,
        "amount": intent.amount,
        "currency": intent.currency,
    }
    if error is None:
        event_type = EventType.ALERT_GATEWAY_CIRCUIT_CLOSED
        logger.warning("gateway.circuit_closed", gateway=gateway.value)
    else:
        event_type = EventType.ALERT_GATEWAY_CIRCUIT_OPENED
        facts |= {"error": error[:500], "open_seconds": context.health.open_seconds}
        logger.error("gateway.circuit_opened", gateway=gateway.value, error=error)
        metrics.CIRCUITS_OPENED.labels(gateway.value).inc()
    await uow.outbox.add_alert(
        alert(event_type, gateway_about(gateway.value), facts),
        merchant_id=intent.merchant_id,
        livemode=intent.livemode,
    )
