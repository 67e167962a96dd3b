"""Every job the scheduler runs, from each area and the shared plumbing."""

from __future__ import annotations

from app.ledger.jobs import (
    SETTLE_BALANCES_LOCK_KEY,
    SETTLE_BATCH,
    SETTLE_INTERVAL_SECONDS,
    settle_balances,
)
from app.payments.jobs import (
    EXPIRE_BATCH,
    EXPIRE_INTERVAL_SECONDS,
    EXPIRE_LOCK_KEY,
    POLL_BATCH,
    POLL_INTERVAL_SECONDS,
    POLL_PAYMENTS_LOCK_KEY,
    REFUND_BATCH,
    REFUND_INTERVAL_SECONDS,
    REFUND_LOCK_KEY,
    RESOLVE_BATCH,
    RESOLVE_INTERVAL_SECONDS,
    RESOLVE_LOCK_KEY,
    expire_pix_intents,
    poll_awaiting_payments,
    refund_late_payments,
    resolve_stuck_intents,
)
from app.payouts import jobs as payout_jobs
from app.refunds.jobs import (
    FOLLOW_UP_BATCH,
    FOLLOW_UP_INTERVAL_SECONDS,
    FOLLOW_UP_REFUNDS_LOCK_KEY,
    follow_up_refunds,
)
from app.scheduler.jobs import (
    PURGE_BATCH_ROWS,
    PURGE_IDEMPOTENCY_LOCK_KEY,
    PURGE_INBOX_LOCK_KEY,
    PURGE_INTERVAL_SECONDS,
    Job,
    purge_idempotency_keys,
    purge_inbox,
)

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
        "follow_up_payouts",
        payout_jobs.FOLLOW_UP_PAYOUTS_LOCK_KEY,
        payout_jobs.FOLLOW_UP_INTERVAL_SECONDS,
        payout_jobs.FOLLOW_UP_BATCH,
        payout_jobs.follow_up_payouts,
    ),
    Job(
        "settle_balances",
        SETTLE_BALANCES_LOCK_KEY,
        SETTLE_INTERVAL_SECONDS,
        SETTLE_BATCH,
        settle_balances,
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
