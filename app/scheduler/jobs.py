"""The scheduler's jobs. Each takes the context and a batch size, does one batch and
returns how many rows it changed; the runner repeats a job whose batch came back full.
Every job is safe to repeat and to stop between items."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.uow import UnitOfWork
from app.domain.errors import PixWaveError
from app.gateways.registry import Gateways
from app.services.expiry import expire_intent
from app.services.late_payments import refund_late_payment
from app.services.payment_polls import PAYMENT_POLL_BACKOFF, poll_awaiting_payment
from app.services.refunds import follow_up_refund
from app.services.resolution import STUCK_CHECK_BACKOFF, check_stuck_intent

# An intent is stuck after this long without progress: well past the ~3 minutes the
# charge worker retries a message (15 receives, 1 to 10 s apart) before it dead-letters.
STUCK_AFTER = timedelta(minutes=10)
# A refund still pending this long after it was created is asked about again: the
# charge worker has had its go, and the gateway (an Efí devolução) may be settling it.
REFUND_FOLLOW_UP_AFTER = timedelta(minutes=1)
# A PIX code quiet this long is asked after: a payer usually pays within a minute of
# seeing the code, and the gateway's first notification comes within seconds.
POLL_AFTER = timedelta(minutes=1)

EXPIRE_INTERVAL_SECONDS = 30.0
RESOLVE_INTERVAL_SECONDS = 60.0
REFUND_INTERVAL_SECONDS = 30.0
PURGE_INTERVAL_SECONDS = 3600.0
EXPIRE_BATCH = 100
RESOLVE_BATCH = 50
REFUND_BATCH = 50
FOLLOW_UP_INTERVAL_SECONDS = 30.0
FOLLOW_UP_BATCH = 50
PURGE_BATCH_ROWS = 1000
POLL_INTERVAL_SECONDS = 30.0
POLL_BATCH = 50

# Keys of pg_try_advisory_xact_lock, one per job: two replicas never run one job at
# once. Never reuse a retired key.
EXPIRE_LOCK_KEY = 7_301_001
RESOLVE_LOCK_KEY = 7_301_002
PURGE_IDEMPOTENCY_LOCK_KEY = 7_301_003
PURGE_INBOX_LOCK_KEY = 7_301_004
REFUND_LOCK_KEY = 7_301_005
FOLLOW_UP_REFUNDS_LOCK_KEY = 7_301_006
POLL_PAYMENTS_LOCK_KEY = 7_301_007


@dataclass(frozen=True)
class JobContext:
    sessions: async_sessionmaker[AsyncSession]
    gateways: Gateways
    stop: asyncio.Event
    inbox_retention: timedelta
    stuck_after: timedelta = STUCK_AFTER
    stuck_backoff: tuple[timedelta, ...] = STUCK_CHECK_BACKOFF
    refund_follow_up_after: timedelta = REFUND_FOLLOW_UP_AFTER
    poll_after: timedelta = POLL_AFTER
    poll_backoff: tuple[timedelta, ...] = PAYMENT_POLL_BACKOFF


@dataclass(frozen=True)
class Job:
    name: str
    lock_key: int
    interval_seconds: float
    batch_size: int
    run: Callable[[JobContext, int], Awaitable[int]]


async def expire_pix_intents(context: JobContext, limit: int) -> int:
    """Cancel unpaid PIX intents past their expiry (and their charges): intents ended."""
    async with UnitOfWork(context.sessions) as uow:
        due = await uow.intents.past_expiry(limit)

    async def expire(intent_id: str) -> bool:
        return await expire_intent(context.sessions, context.gateways, intent_id)

    return await _each(context, due, expire)


async def resolve_stuck_intents(context: JobContext, limit: int) -> int:
    """Ask the gateways about intents that stopped moving: intents that moved on."""
    async with UnitOfWork(context.sessions) as uow:
        await uow.stuck_checks.forget_unstuck()
        due = await uow.intents.stuck(context.stuck_after, limit)
        await uow.commit()

    async def check(intent_id: str) -> bool:
        return await check_stuck_intent(
            context.sessions, context.gateways, intent_id, context.stuck_backoff
        )

    return await _each(context, due, check)


async def poll_awaiting_payments(context: JobContext, limit: int) -> int:
    """Ask the gateways about PIX charges quiet too long: intents paid or ended."""
    async with UnitOfWork(context.sessions) as uow:
        await uow.payment_polls.forget_settled()
        due = await uow.intents.awaiting_payment(context.poll_after, limit)
        await uow.commit()

    async def poll(intent_id: str) -> bool:
        return await poll_awaiting_payment(
            context.sessions, context.gateways, intent_id, context.poll_backoff
        )

    return await _each(context, due, poll)


async def refund_late_payments(context: JobContext, limit: int) -> int:
    """Return payments intents could not take: payments settled."""
    async with UnitOfWork(context.sessions) as uow:
        due = await uow.attempts.refunds_due(limit)

    async def refund(attempt_id: str) -> bool:
        return await refund_late_payment(context.sessions, context.gateways, attempt_id)

    return await _each(context, due, refund)


async def follow_up_refunds(context: JobContext, limit: int) -> int:
    """Ask the gateways about refunds still pending there: refunds made final."""
    before = datetime.now(UTC) - context.refund_follow_up_after
    async with UnitOfWork(context.sessions) as uow:
        due = await uow.refunds.pending_since(before, limit)

    async def follow_up(refund_id: str) -> bool:
        return await follow_up_refund(context.sessions, context.gateways, refund_id)

    return await _each(context, due, follow_up)


async def purge_idempotency_keys(context: JobContext, limit: int) -> int:
    """Delete stored answers past their ``expires_at``."""
    async with UnitOfWork(context.sessions) as uow:
        deleted = await uow.idempotency.delete_expired(limit)
        await uow.commit()
    return deleted


async def purge_inbox(context: JobContext, limit: int) -> int:
    """Delete consumers' dedup rows older than the inbox retention."""
    cutoff = datetime.now(UTC) - context.inbox_retention
    async with UnitOfWork(context.sessions) as uow:
        deleted = await uow.inbox.delete_before(cutoff, limit)
        await uow.commit()
    return deleted


async def _each(
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


JOBS: tuple[Job, ...] = (
    Job(
        "expire_pix_intents",
        EXPIRE_LOCK_KEY,
        EXPIRE_INTERVAL_SECONDS,
        EXPIRE_BATCH,
        expire_pix_intents,
    ),
    Job(
        "resolve_stuck_intents",
        RESOLVE_LOCK_KEY,
        RESOLVE_INTERVAL_SECONDS,
        RESOLVE_BATCH,
        resolve_stuck_intents,
    ),
    Job(
        "poll_awaiting_payments",
        POLL_PAYMENTS_LOCK_KEY,
        POLL_INTERVAL_SECONDS,
        POLL_BATCH,
        poll_awaiting_payments,
    ),
    Job(
        "refund_late_payments",
        REFUND_LOCK_KEY,
        REFUND_INTERVAL_SECONDS,
        REFUND_BATCH,
        refund_late_payments,
    ),
    Job(
        "follow_up_refunds",
        FOLLOW_UP_REFUNDS_LOCK_KEY,
        FOLLOW_UP_INTERVAL_SECONDS,
        FOLLOW_UP_BATCH,
        follow_up_refunds,
    ),
    Job(
        "purge_idempotency_keys",
        PURGE_IDEMPOTENCY_LOCK_KEY,
        PURGE_INTERVAL_SECONDS,
        PURGE_BATCH_ROWS,
        purge_idempotency_keys,
    ),
    Job("purge_inbox", PURGE_INBOX_LOCK_KEY, PURGE_INTERVAL_SECONDS, PURGE_BATCH_ROWS, purge_inbox),
)
