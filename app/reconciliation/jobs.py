"""The daily reconciliation: at each gateway, the last day whose window (the day and the
matcher's tolerance after it) closed at least ``SETTLE_DELAY`` ago, Brasília time:
yesterday from 03:00, the day before until then. A clean day is never redone; one that
failed or did not match is tried again ``RETRY_AFTER`` its last run, so a persisting
difference alerts a few times a day, not every hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.domain.reconciliation import DEFAULT_TOLERANCE
from app.reconciliation.service import previous_day, reconcile_day
from app.scheduler.jobs import JobContext

RECONCILE_INTERVAL_SECONDS = 3600.0
# At most this many gateways a run: never a full batch, so the runner does not repeat it.
RECONCILE_BATCH = 10
RECONCILE_LOCK_KEY = 7_301_010
# Past the window's end: what the gateway lists for it has had time to appear (Mercado
# Pago's search lags, docs/gateways/payouts-and-reconciliation.md §3).
SETTLE_DELAY = timedelta(hours=1)
RETRY_AFTER = timedelta(hours=6)


def last_closed_day(now: datetime) -> date:
    """The last day whose window closed and settled by ``now``."""
    return previous_day(now - DEFAULT_TOLERANCE - SETTLE_DELAY)


async def reconcile_last_day(context: JobContext, limit: int) -> int:
    """Reconcile the last closed day where it is not clean yet: the runs stored."""
    day = last_closed_day(datetime.now(UTC))
    runs = await reconcile_day(context.new_uow, context.gateways, day, retry_after=RETRY_AFTER)
    return len(runs[:limit])
