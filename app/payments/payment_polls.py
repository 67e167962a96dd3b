"""Asking after PIX charges still awaiting their payer. The gateway's notification of a
payment can be lost for good (every resend falls into an outage of ours); instead of
waiting for the gateway's next resend or the code's expiry, the scheduler asks, on a
backoff, and applies the answer as a callback would. No alert: waiting is normal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger

from app.db.models import PaymentAttempt, PaymentIntent, PaymentPoll
from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.domain.intents import IntentStatus
from app.gateways.registry import Gateways
from app.payments.repository import PaymentPollRepository
from app.payments.resolution import follow_up_intent
from app.scheduler.jobs import PAYMENT_POLL_BACKOFF


@dataclass(frozen=True)
class PaymentPollFollowUp:
    backoff: tuple[timedelta, ...] = PAYMENT_POLL_BACKOFF

    def still_waiting(self, intent: PaymentIntent, attempts: list[PaymentAttempt]) -> bool:
        return intent.status is IntentStatus.REQUIRES_ACTION

    async def settled(self, uow: UnitOfWork, intent: PaymentIntent) -> None:
        await uow.repository(PaymentPollRepository).forget(intent.id)

    async def unsettled(self, uow: UnitOfWork, intent: PaymentIntent, why: str) -> None:
        poll = await uow.repository(PaymentPollRepository).get_for_update(intent.id)
        if poll is None:
            poll = PaymentPoll(payment_intent_id=intent.id, polls=0)
            uow.repository(PaymentPollRepository).add(poll)
        poll.polls += 1
        poll.last_answer = why[:1000]
        wait = self.backoff[min(poll.polls, len(self.backoff)) - 1]
        poll.next_poll_at = datetime.now(UTC) + wait


async def poll_awaiting_payment(
    new_uow: UnitOfWorkFactory,
    gateways: Gateways,
    intent_id: str,
    backoff: tuple[timedelta, ...] = PAYMENT_POLL_BACKOFF,
) -> bool:
    """True if the intent moved on (paid, or ended at the gateway)."""
    moved = await follow_up_intent(new_uow, gateways, intent_id, PaymentPollFollowUp(backoff))
    if moved:
        # Paid or ended by the time it was polled, through the poll's own answer or one
        # that came in meanwhile; repeated often, notifications are not reaching us.
        logger.warning("scheduler.awaiting_payment_settled_by_poll", intent=intent_id)
    return moved
