"""The refunds area's scheduled job: refunds still pending at the gateway."""

from __future__ import annotations

from datetime import UTC, datetime

from app.refunds.repository import RefundRepository
from app.refunds.service import follow_up_refund
from app.scheduler.jobs import JobContext, each

FOLLOW_UP_INTERVAL_SECONDS = 30.0
FOLLOW_UP_BATCH = 50
FOLLOW_UP_REFUNDS_LOCK_KEY = 7_301_006


async def follow_up_refunds(context: JobContext, limit: int) -> int:
    """Ask the gateways about refunds still pending there: refunds made final."""
    before = datetime.now(UTC) - context.refund_follow_up_after
    async with context.new_uow() as uow:
        due = await uow.repository(RefundRepository).pending_since(before, limit)

    async def follow_up(refund_id: str) -> bool:
        return await follow_up_refund(context.new_uow, context.gateways, refund_id)

    return await each(context, due, follow_up)
