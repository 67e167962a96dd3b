"""Asking after PIX charges still awaiting their payer. The gateway's notification of a
payment can be lost for good (every resend falls into an outage of ours); instead of
waiting for the gateway's next resend or the code's expiry, the scheduler asks, on a
backoff, and applies the answer as a callback would. No alert: waiting is normal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import PaymentAttempt, PaymentIntent, PaymentPoll
from app.db.uow import UnitOfWork
from app.domain.intents import IntentStatus
from app.gateways.registry import Gateways
from app.services.resolution import follow_up_intent

# Waits between polls that find the charge still unpaid; the last one repeats until the
# code expires (the expiry job ends the intent then).
PAYMENT_POLL_BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
)


@dataclass(frozen=True)
class PaymentPollFollowUp:
    backoff: tuple[timedelta, ...] = PAYMENT_POLL_BACKOFF

    def still_waiting(self, intent: PaymentIntent, attempts: list[PaymentAttempt]) -> bool:
        return IntentStatus(intent.status) is IntentStatus.REQUIRES_ACTION

    async def settled(self, uow: UnitOfWork, intent: PaymentIntent) -> None:
        await uow.payment_polls.forget(intent.id)

    async def unsettled(self, uow: UnitOfWork, intent: PaymentIntent, why: str) -> None:
        poll = await uow.payment_polls.get_for_update(intent.id)
        if poll is None:
            poll = PaymentPoll(payment_intent_id=intent.id, polls=0)
            uow.payment_polls.add(poll)
        poll.polls += 1
        poll.last_answer = why[:1000]
        wait = self.backoff[min(poll.polls, len(self.backoff)) - 1]
        poll.next_poll_at = datetime.now(UTC) + wait


async def poll_awaiting_payment(
    sessions: async_sessionmaker[AsyncSession],
    gateways: Gateways,
    intent_id: str,
    backoff: tuple[timedelta, ...] = PAYMENT_POLL_BACKOFF,
) -> bool:
    """True if the intent moved on (paid, or ended at the gateway)."""
    moved = await follow_up_intent(sessions, gateways, intent_id, PaymentPollFollowUp(backoff))
    if moved:
        # Worth a look when it repeats: the gateway's notifications are not reaching us.
        logger.warning("scheduler.payment_found_by_poll", intent=intent_id)
    return moved
