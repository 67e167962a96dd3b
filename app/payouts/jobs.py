"""The payouts area's scheduled job: sends still in transit, read until final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.payouts.repository import PayoutRepository
from app.payouts.service import follow_up_payout
from app.scheduler.jobs import JobContext, each

FOLLOW_UP_INTERVAL_SECONDS = 30.0
FOLLOW_UP_BATCH = 50
FOLLOW_UP_PAYOUTS_LOCK_KEY = 7_301_009
# The charge worker has had its go at a payout unchanged this long.
FOLLOW_UP_AFTER = timedelta(seconds=30)


async def follow_up_payouts(context: JobContext, limit: int) -> int:
    """Read the sends of payouts in transit by their idEnvio: payouts made final."""
    if context.cipher is None:
        raise ValueError("PIXWAVE_DOCUMENT_KEY is not set: payouts' sends cannot be rebuilt")
    cipher = context.cipher
    before = datetime.now(UTC) - FOLLOW_UP_AFTER
    async with context.new_uow() as uow:
        due = await uow.repository(PayoutRepository).in_transit_since(before, limit)

    async def follow_up(payout_id: str) -> bool:
        return await follow_up_payout(context.new_uow, context.gateways, cipher, payout_id)

    return await each(context, due, follow_up)
