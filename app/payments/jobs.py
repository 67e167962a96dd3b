"""The payments area's scheduled jobs: PIX intents past their expiry, intents that
stopped moving, and payments intents could not take (late payments)."""

from __future__ import annotations

from app.payments.expiry import expire_intent
from app.payments.late_payments import refund_late_payment
from app.payments.payment_polls import poll_awaiting_payment
from app.payments.repository import (
    AttemptRepository,
    IntentRepository,
    PaymentPollRepository,
    StuckCheckRepository,
)
from app.payments.resolution import check_stuck_intent
from app.scheduler.jobs import JobContext, each

EXPIRE_INTERVAL_SECONDS = 30.0
RESOLVE_INTERVAL_SECONDS = 60.0
REFUND_INTERVAL_SECONDS = 30.0
POLL_INTERVAL_SECONDS = 30.0
EXPIRE_BATCH = 100
RESOLVE_BATCH = 50
REFUND_BATCH = 50
POLL_BATCH = 50

# Keys of pg_try_advisory_xact_lock, one per job: two replicas never run one job at
# once. Never reuse a retired key.
EXPIRE_LOCK_KEY = 7_301_001
RESOLVE_LOCK_KEY = 7_301_002
REFUND_LOCK_KEY = 7_301_005
POLL_PAYMENTS_LOCK_KEY = 7_301_007


async def expire_pix_intents(context: JobContext, limit: int) -> int:
    """Cancel unpaid PIX intents past their expiry (and their charges): intents ended."""
    async with context.new_uow() as uow:
        due = await uow.repository(IntentRepository).past_expiry(limit)

    async def expire(intent_id: str) -> bool:
        return await expire_intent(context.new_uow, context.gateways, intent_id)

    return await each(context, due, expire)


async def resolve_stuck_intents(context: JobContext, limit: int) -> int:
    """Ask the gateways about intents that stopped moving: intents that moved on."""
    async with context.new_uow() as uow:
        await uow.repository(StuckCheckRepository).forget_unstuck()
        due = await uow.repository(IntentRepository).stuck(context.stuck_after, limit)
        await uow.commit()

    async def check(intent_id: str) -> bool:
        return await check_stuck_intent(
            context.new_uow, context.gateways, intent_id, context.stuck_backoff
        )

    return await each(context, due, check)


async def poll_awaiting_payments(context: JobContext, limit: int) -> int:
    """Ask the gateways about PIX charges quiet too long: intents paid or ended."""
    async with context.new_uow() as uow:
        await uow.repository(PaymentPollRepository).forget_settled()
        due = await uow.repository(IntentRepository).awaiting_payment(context.poll_after, limit)
        await uow.commit()

    async def poll(intent_id: str) -> bool:
        return await poll_awaiting_payment(
            context.new_uow, context.gateways, intent_id, context.poll_backoff
        )

    return await each(context, due, poll)


async def refund_late_payments(context: JobContext, limit: int) -> int:
    """Return payments intents could not take: payments settled."""
    async with context.new_uow() as uow:
        due = await uow.repository(AttemptRepository).refunds_due(limit)

    async def refund(attempt_id: str) -> bool:
        return await refund_late_payment(context.new_uow, context.gateways, attempt_id)

    return await each(context, due, refund)
