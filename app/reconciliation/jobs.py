"""The daily reconciliation of yesterday (Brasília time) at each gateway, once its window
(the day and the matcher's tolerance after it) has closed and settled. A clean day is
never redone; one that failed or did not match is tried again ``RETRY_AFTER`` its last
run, so a persisting difference alerts a few times, not every hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.reconciliation.service import day_window, previous_day, reconcile_day
from app.scheduler.jobs import JobContext

RECONCILE_INTERVAL_SECONDS = 3600.0
# At most this many gateways a run: never a full batch, so the runner does not repeat it.
RECONCILE_BATCH = 10
RECONCILE_LOCK_KEY = 7_301_011  # 7_301_009 and 7_301_010 are taken on other branches
# Past the window's end: what the gateway lists for it has had time to appear (Mercado
# Pago's search lags, docs/gateways/payouts-and-reconciliation.md §3).
SETTLE_DELAY = timedelta(hours=1)
RETRY_AFTER = timedelta(hours=6)


async def reconcile_yesterday(context: JobContext, limit: int) -> int:
    """Reconcile yesterday where it is not clean yet: the runs stored."""
    now = datetime.now(UTC)
    day = previous_day(now)
    if now < day_window(day).read_end + SETTLE_DELAY:
        return 0
    runs = await reconcile_day(context.new_uow, context.gateways, day, retry_after=RETRY_AFTER)
    return len(runs[:limit])
