"""Following up intents that stopped moving (in ``processing``, or with a try whose
outcome stayed unknown): ask the gateway what became of the last try and apply it;
checks that settle nothing back off along a schedule, then operators are alerted.

As for expiry, the gateway is asked before the transaction that applies the answer,
and the answer is only applied if nobody moved the intent in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from loguru import logger

from app.db.models import PaymentAttempt, PaymentIntent, StuckCheck
from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.domain.charges import AttemptOutcome
from app.domain.errors import RetryLater
from app.domain.events import EventType
from app.domain.intents import IntentStatus
from app.gateways.port import Charge
from app.gateways.registry import Gateways
from app.payments.charge_calls import look_up
from app.payments.charges import apply_attempt_charge, note_not_found
from app.payments.events import record_alert
from app.payments.repository import AttemptRepository, IntentRepository, StuckCheckRepository
from app.scheduler.jobs import STUCK_CHECK_BACKOFF

NOTHING_TO_ASK = "no charge to ask about: the charge message may be in pixwave-charge-dlq"


@dataclass(frozen=True)
class _Snapshot:
    """What the gateway was asked about; if it changed, someone else moved the intent."""

    version: int
    attempt_id: str | None
    outcome: str | None
    charge_status: str | None


class FollowUp(Protocol):
    """What a follow-up of an intent does once the gateway's answer is applied (or not)."""

    def still_waiting(self, intent: PaymentIntent, attempts: list[PaymentAttempt]) -> bool:
        """Whether the intent still needs following up after the answer was applied."""

    async def settled(self, uow: UnitOfWork, intent: PaymentIntent) -> None:
        """The intent moved on: drop the follow-up's state."""

    async def unsettled(self, uow: UnitOfWork, intent: PaymentIntent, why: str) -> None:
        """Nothing moved: schedule the next ask (or give up loudly)."""


@dataclass(frozen=True)
class StuckFollowUp:
    """Intents in ``processing`` or with an unknown try: backoff, then one alert."""

    backoff: tuple[timedelta, ...] = STUCK_CHECK_BACKOFF

    def still_waiting(self, intent: PaymentIntent, attempts: list[PaymentAttempt]) -> bool:
        processing = intent.status is IntentStatus.PROCESSING
        return processing or any(a.outcome == AttemptOutcome.UNKNOWN for a in attempts)

    async def settled(self, uow: UnitOfWork, intent: PaymentIntent) -> None:
        await uow.repository(StuckCheckRepository).forget(intent.id)

    async def unsettled(self, uow: UnitOfWork, intent: PaymentIntent, why: str) -> None:
        await _schedule_next_check(uow, intent, self.backoff, why)


async def check_stuck_intent(
    new_uow: UnitOfWorkFactory,
    gateways: Gateways,
    intent_id: str,
    backoff: tuple[timedelta, ...] = STUCK_CHECK_BACKOFF,
) -> bool:
    """True if the intent moved on; otherwise the next check is scheduled, or past the
    schedule an ``alert.payment_intent_stuck`` is raised (once)."""
    return await follow_up_intent(new_uow, gateways, intent_id, StuckFollowUp(backoff))


async def follow_up_intent(
    new_uow: UnitOfWorkFactory,
    gateways: Gateways,
    intent_id: str,
    follow_up: FollowUp,
) -> bool:
    """Ask the gateway about the intent's last try and apply the answer if nobody moved
    the intent meanwhile; True if it moved on."""
    async with new_uow() as uow:
        intent = await uow.repository(IntentRepository).find(intent_id)
        if intent is None:
            return False
        attempts = await uow.repository(AttemptRepository).for_intent(intent_id)
        before = _snapshot(intent, attempts)
    last = attempts[-1] if attempts else None
    asked, charge, why = False, None, NOTHING_TO_ASK
    if last is not None and _worth_asking(last):
        try:
            charge = await look_up(gateways.require(last.gateway), last)
        except RetryLater as exc:
            why = exc.message
        else:
            asked, why = True, _what_was_said(charge)
    async with new_uow() as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        assert intent is not None
        attempts = await uow.repository(AttemptRepository).for_intent(intent_id)
        moved = _snapshot(intent, attempts) != before
        if not moved and asked:
            await _apply_answer(uow, intent, attempts[-1], charge)
            moved = not follow_up.still_waiting(intent, attempts)
        if moved:
            await follow_up.settled(uow, intent)
        else:
            await follow_up.unsettled(uow, intent, why)
        await uow.commit()
    return moved


def _snapshot(intent: PaymentIntent, attempts: list[PaymentAttempt]) -> _Snapshot:
    last = attempts[-1] if attempts else None
    return _Snapshot(
        intent.version,
        last.id if last else None,
        last.outcome if last else None,
        last.charge_status if last else None,
    )


def _worth_asking(attempt: PaymentAttempt) -> bool:
    """An unknown try is looked up by its key; any other, only if it made a charge."""
    return attempt.outcome == AttemptOutcome.UNKNOWN or attempt.gateway_reference is not None


def _what_was_said(charge: Charge | None) -> str:
    if charge is None:
        return "the gateway has no charge for the last try"
    return f"{charge.gateway.value} says {charge.reference} is {charge.gateway_status}"


async def _apply_answer(
    uow: UnitOfWork, intent: PaymentIntent, attempt: PaymentAttempt, charge: Charge | None
) -> None:
    if charge is None:
        if attempt.outcome == AttemptOutcome.UNKNOWN:
            note_not_found(attempt)
    else:
        # An authorized charge whose capture was requested stays with the charge worker.
        await apply_attempt_charge(uow, intent, attempt, charge)


async def _schedule_next_check(
    uow: UnitOfWork, intent: PaymentIntent, backoff: tuple[timedelta, ...], why: str
) -> None:
    now = datetime.now(UTC)
    check = await uow.repository(StuckCheckRepository).get_for_update(intent.id)
    if check is None:
        check = StuckCheck(payment_intent_id=intent.id, checks=0, next_check_at=now)
        uow.repository(StuckCheckRepository).add(check)
    check.checks += 1
    check.last_error = why[:1000]
    if check.checks <= len(backoff):
        check.next_check_at = now + backoff[check.checks - 1]
        return
    check.alerted_at = now
    logger.error("scheduler.intent_stuck", intent=intent.id, checks=check.checks, reason=why)
    await record_alert(
        uow,
        EventType.ALERT_PAYMENT_INTENT_STUCK,
        intent,
        {"status": intent.status, "checks": check.checks, "reason": why[:500]},
    )
