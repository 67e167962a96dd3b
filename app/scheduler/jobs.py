"""What every scheduled job is made of. A job takes the context and a batch size, does
one batch and returns how many rows it changed; the runner repeats a job whose batch
came back full. Every job is safe to repeat and to stop between items. The areas'
jobs are in each area's jobs.py (app/payments, app/refunds, app/ledger, app/payouts);
app/scheduler/schedule.py lists them all. The shared plumbing's purges are here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger

from app.db.uow import UnitOfWorkFactory
from app.domain.errors import PixWaveError
from app.gateways.registry import Gateways
from app.security import DocumentCipher

# An intent is stuck after this long without progress: well past the ~3 minutes the
# charge worker retries a message (15 receives, 1 to 10 s apart) before it dead-letters.
STUCK_AFTER = timedelta(minutes=10)
# Waits between checks of a stuck intent that settle nothing; after the last, operators
# are alerted (about 80 minutes after the first check).
STUCK_CHECK_BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)
# A refund still pending this long after it was created is asked about again: the
# charge worker has had its go, and the gateway (an Efí devolução) may be settling it.
REFUND_FOLLOW_UP_AFTER = timedelta(minutes=1)
# A PIX code quiet this long is asked after: a payer usually pays within a minute of
# seeing the code, and the gateway's first notification comes within seconds.
POLL_AFTER = timedelta(minutes=1)
# Waits between polls that find the charge still unpaid; the last one repeats until the
# code expires (the expiry job ends the intent then).
PAYMENT_POLL_BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=15),
)

PURGE_INTERVAL_SECONDS = 3600.0
PURGE_BATCH_ROWS = 1000

# Keys of pg_try_advisory_xact_lock, one per job (here and in the areas' jobs.py): two
# replicas never run one job at once. Never reuse a retired key.
PURGE_IDEMPOTENCY_LOCK_KEY = 7_301_003
PURGE_INBOX_LOCK_KEY = 7_301_004


@dataclass(frozen=True)
class JobContext:
    new_uow: UnitOfWorkFactory
    gateways: Gateways
    stop: asyncio.Event
    inbox_retention: timedelta
    stuck_after: timedelta = STUCK_AFTER
    stuck_backoff: tuple[timedelta, ...] = STUCK_CHECK_BACKOFF
    refund_follow_up_after: timedelta = REFUND_FOLLOW_UP_AFTER
    poll_after: timedelta = POLL_AFTER
    poll_backoff: tuple[timedelta, ...] = PAYMENT_POLL_BACKOFF
    # Payouts' sends are rebuilt with the payee's document (None: PIXWAVE_DOCUMENT_KEY unset).
    cipher: DocumentCipher | None = None


@dataclass(frozen=True)
class Job:
    name: str
    lock_key: int
    interval_seconds: float
    batch_size: int
    run: Callable[[JobContext, int], Awaitable[int]]


async def purge_idempotency_keys(context: JobContext, limit: int) -> int:
    """Delete stored answers past their ``expires_at``."""
    async with context.new_uow() as uow:
        deleted = await uow.idempotency.delete_expired(limit)
        await uow.commit()
    return deleted


async def purge_inbox(context: JobContext, limit: int) -> int:
    """Delete consumers' dedup rows older than the inbox retention."""
    cutoff = datetime.now(UTC) - context.inbox_retention
    async with context.new_uow() as uow:
        deleted = await uow.inbox.delete_before(cutoff, limit)
        await uow.commit()
    return deleted


async def each(
    context: JobContext, ids: Sequence[str], handle: Callable[[str], Awaitable[bool]]
) -> int:
    """Handle ids one by one until asked to stop; one that fails waits for the next run."""
    done = 0
    for item in ids:
        if context.stop.is_set():
            break
        try:
            done += await handle(item)
        except PixWaveError as exc:
            logger.warning("scheduler.item_deferred", item=item, error=exc.message)
    return done
