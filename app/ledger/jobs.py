"""The ledger's scheduled job: pending funds become available when they are due."""

from __future__ import annotations

from datetime import UTC, datetime

from app.ledger.service import settle_due_balances
from app.scheduler.jobs import JobContext

SETTLE_INTERVAL_SECONDS = 60.0
SETTLE_BATCH = 100
SETTLE_BALANCES_LOCK_KEY = 7_301_008


async def settle_balances(context: JobContext, limit: int) -> int:
    """Make pending funds due by now available: balances settled."""
    return await settle_due_balances(context.new_uow, datetime.now(UTC), limit)
