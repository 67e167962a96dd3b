"""The relay: publishes every committed outbox row to SNS, at least once, in
per-aggregate order (../shared/DESIGN.md, "Relay").

Each lane claims a batch with FOR UPDATE SKIP LOCKED, publishes it with
concurrent PublishBatch calls, and marks the rows in the same transaction, so a
crash before the commit only means the rows are claimed and published again.

A lane holds one connection for its life and runs the claim and the mark as
prepared psycopg statements on it: through the ORM, a claim of one event cost more
CPU than its PublishBatch call. Failures (counted, parked, alerted) go through the
ORM, in a session joined to the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from loguru import logger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.session import session_factory
from app.domain.alerts import alert
from app.domain.events import EventType
from app.roles import periodically, sleep_unless
from app.settings import RELAY_GATHER_SECONDS
from app.tracing import record_span
from outbox import metrics
from outbox.breaker import CircuitBreaker
from outbox.publisher import (
    MAX_BATCH_BYTES,
    EntryFailure,
    PreparedMessage,
    batches,
    prepare,
    publish_batch,
)
from outbox.repository import ClaimedEvent, OutboxRepository, claim, mark_published
from outbox.writer import NOTIFY_CHANNEL, OutboxWriter

MAX_CALLS_IN_FLIGHT = 10
ENTRY_RETRIES = 3
ENTRY_RETRY_BACKOFF_SECONDS = 0.05
# A row SNS keeps refusing (not an outage: the call succeeds for its neighbours) is parked.
MAX_PUBLISH_ATTEMPTS = 20
BREAKER_THRESHOLD = 3
BREAKER_BASE_WAIT_SECONDS = 0.5
BREAKER_MAX_WAIT_SECONDS = 30.0
LAG_REFRESH_SECONDS = 2.0
CLEANUP_INTERVAL_SECONDS = 60.0
CLEANUP_BATCH_ROWS = 1000
LISTEN_RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class RelayOptions:
    batch_size: int = 100
    lanes: int = 2
    poll_seconds: float = 1.0
    retention: timedelta = timedelta(days=30)
    fifo: bool = False
    gather_seconds: float = RELAY_GATHER_SECONDS


@dataclass(slots=True)
class _Outcome:
    published: list[PreparedMessage] = field(default_factory=list)
    failures: list[EntryFailure] = field(default_factory=list)


class _HeldConnection:
    """A lane's connection, kept across claims so its statements stay prepared; dropped
    after a failed cycle (it may have died) and opened again by the next one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._held: tuple[AsyncConnection, psycopg.AsyncCursor[Any]] | None = None

    async def get(self) -> tuple[AsyncConnection, psycopg.AsyncCursor[Any]]:
        if self._held is None:
            connection = await self._engine.connect()
            driver = (await connection.get_raw_connection()).driver_connection
            if not isinstance(driver, psycopg.AsyncConnection):
                await connection.close()
                raise TypeError(f"the relay needs psycopg's async driver, not {driver!r}")
            self._held = (connection, driver.cursor())
        return self._held

    async def close(self, *, discard: bool = False) -> None:
        """Give the connection back to the pool, or ``discard`` it after a failed cycle:
        it may be dead or mid-transaction."""
        if self._held is not None:
            connection, _ = self._held
            self._held = None
            if discard:
                await connection.invalidate()
            await connection.close()


class Relay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        listen_url: str,
        sns: Any,
        topic_arns: dict[str, str],
        options: RelayOptions,
    ) -> None:
        self._engine = engine
        self._sessions = session_factory(engine)
        self._listen_url = listen_url
        self._sns = sns
        self._topic_arns = topic_arns
        self._options = options
        self._breaker = CircuitBreaker(
            threshold=BREAKER_THRESHOLD,
            base_wait_seconds=BREAKER_BASE_WAIT_SECONDS,
            max_wait_seconds=BREAKER_MAX_WAIT_SECONDS,
        )
        self._calls = asyncio.Semaphore(MAX_CALLS_IN_FLIGHT)
        # One token per burst of notifications: it wakes one lane, not every lane.
        self._wake: asyncio.Queue[None] = asyncio.Queue(maxsize=1)

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("relay.started", lanes=self._options.lanes, fifo=self._options.fifo)
        background = [
            asyncio.create_task(self._listen(stop)),
            asyncio.create_task(periodically(LAG_REFRESH_SECONDS, self.refresh_lag)),
            asyncio.create_task(periodically(CLEANUP_INTERVAL_SECONDS, self.delete_old)),
        ]
        try:
            await asyncio.gather(*(self._lane(stop) for _ in range(self._options.lanes)))
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            logger.info("relay.stopped")

    async def publish_once(self, held: _HeldConnection) -> int:
        """Claim one batch, publish it, record the outcome; return how many rows were claimed."""
        started_ns = time.time_ns()
        connection, cursor = await held.get()
        async with connection.begin():
            rows = await claim(cursor, self._options.batch_size)
            if not rows:
                return 0
            outcome = await self._publish([prepare(r, fifo=self._options.fifo) for r in rows])
            await self._record(connection, cursor, rows, outcome)
        self._observe(rows, outcome)
        record_span(
            "relay claim",
            started_ns=started_ns,
            attributes={
                "pixwave.relay.claimed": len(rows),
                "pixwave.relay.published": len(outcome.published),
            },
            links_to=(row.traceparent for row in rows),
        )
        return len(rows)

    async def _publish(self, messages: list[PreparedMessage]) -> _Outcome:
        outcome = _Outcome()
        pending = []
        for message in messages:
            if message.size_bytes > MAX_BATCH_BYTES:
                reason = f"TooLarge: {message.size_bytes} bytes > {MAX_BATCH_BYTES}"
                outcome.failures.append(EntryFailure(message.position, reason, "invalid"))
            else:
                pending.append(message)
        for attempt in range(ENTRY_RETRIES):
            failures = await self._send(pending)
            failed = {f.position: f for f in failures}
            outcome.published.extend(m for m in pending if m.position not in failed)
            retry = [
                m for m in pending if m.position in failed and failed[m.position].kind != "invalid"
            ]
            outcome.failures.extend(f for f in failures if f.kind == "invalid")
            # Retry only entries refused while others went through; an outage is the breaker's.
            if not retry or len(retry) == len(pending) or attempt == ENTRY_RETRIES - 1:
                outcome.failures.extend(failed[m.position] for m in retry)
                break
            pending = retry
            await asyncio.sleep(ENTRY_RETRY_BACKOFF_SECONDS * 2**attempt)
        return outcome

    async def _send(self, messages: list[PreparedMessage]) -> list[EntryFailure]:
        by_topic: dict[str, list[PreparedMessage]] = {}
        for message in messages:
            by_topic.setdefault(message.topic, []).append(message)

        async def call(topic: str, batch: list[PreparedMessage]) -> list[EntryFailure]:
            async with self._calls:
                return await publish_batch(self._sns, self._topic_arns[topic], batch)

        results = await asyncio.gather(
            *(call(topic, batch) for topic, group in by_topic.items() for batch in batches(group))
        )
        return [failure for result in results for failure in result]

    async def _record(
        self,
        connection: AsyncConnection,
        cursor: psycopg.AsyncCursor[Any],
        rows: list[ClaimedEvent],
        outcome: _Outcome,
    ) -> None:
        if outcome.published:
            await mark_published(cursor, [m.position for m in outcome.published])
        if outcome.failures:
            # Bound to the lane's connection, the session joins the transaction begun
            # on it: its writes commit or roll back with the claim and the mark.
            async with AsyncSession(bind=connection) as session:
                await _record_failures(session, rows, outcome.failures)
        if outcome.published:
            self._breaker.record_success()
        elif any(f.kind == "outage" for f in outcome.failures):
            self._breaker.record_failure()

    def _observe(self, rows: list[ClaimedEvent], outcome: _Outcome) -> None:
        now = datetime.now(UTC)
        created = {row.position: row.created_at for row in rows}
        for message in outcome.published:
            metrics.PUBLISHED.labels(message.topic).inc()
            metrics.COMMIT_TO_PUBLISH.observe((now - created[message.position]).total_seconds())
        for failure in outcome.failures:
            metrics.FAILED.labels(failure.kind).inc()
        if outcome.failures:
            logger.warning(
                "relay.publish_failed",
                failed=len(outcome.failures),
                published=len(outcome.published),
                first_error=outcome.failures[0].error,
            )

    async def _lane(self, stop: asyncio.Event) -> None:
        held = _HeldConnection(self._engine)
        try:
            while not stop.is_set():
                wait = self._breaker.seconds_until_trial()
                if wait > 0:
                    await sleep_unless(stop, wait)
                    continue
                try:
                    claimed = await self.publish_once(held)
                except (SQLAlchemyError, psycopg.Error, OSError) as exc:
                    logger.warning("relay.cycle_failed", error=repr(exc))
                    await held.close(discard=True)
                    await sleep_unless(stop, self._options.poll_seconds)
                    continue
                if claimed < self._options.batch_size:
                    await self._wait_for_wake(stop)
        finally:
            await held.close()

    async def _wait_for_wake(self, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        woken = asyncio.create_task(self._wake.get())
        await asyncio.wait(
            {stopping, woken},
            timeout=self._options.poll_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
        stopping.cancel()
        if not woken.done():
            woken.cancel()
            return
        await sleep_unless(stop, self._options.gather_seconds)
        # This claim takes whatever those notifications announced.
        with contextlib.suppress(asyncio.QueueEmpty):
            self._wake.get_nowait()

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN for inserts; polling in the lanes covers any gap while reconnecting."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._listen_url, autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    async for _ in connection.notifies():
                        if self._wake.empty():
                            self._wake.put_nowait(None)
            except psycopg.Error as exc:
                logger.warning("relay.listen_failed", error=repr(exc))
                await sleep_unless(stop, LISTEN_RETRY_SECONDS)

    async def refresh_lag(self) -> None:
        async with self._sessions() as session:
            lag = await OutboxRepository(session).lag()
        metrics.UNPUBLISHED.set(lag.unpublished)
        metrics.OLDEST_AGE.set(lag.oldest_age_seconds)
        metrics.PARKED.set(lag.parked)

    async def delete_old(self) -> None:
        cutoff = datetime.now(UTC) - self._options.retention
        deleted = CLEANUP_BATCH_ROWS
        while deleted == CLEANUP_BATCH_ROWS:
            async with self._sessions() as session, session.begin():
                deleted = await OutboxRepository(session).delete_published_before(
                    cutoff, CLEANUP_BATCH_ROWS
                )
            if deleted:
                logger.info("relay.deleted_published", rows=deleted)


async def _record_failures(
    session: AsyncSession, rows: list[ClaimedEvent], failures: list[EntryFailure]
) -> None:
    repo = OutboxRepository(session)
    by_position = {row.position: row for row in rows}
    for failure in failures:
        row = by_position[failure.position]
        # An outage is nobody's fault: it never counts toward parking a row.
        refusals = row.publish_attempts + (failure.kind != "outage")
        if failure.kind == "invalid" or refusals >= MAX_PUBLISH_ATTEMPTS:
            await repo.park(row.position, failure.error)
            await _raise_parked_alert(OutboxWriter(session), row, failure.error)
        else:
            await repo.record_failure(row.position, failure.error, counts=failure.kind != "outage")


async def _raise_parked_alert(writer: OutboxWriter, row: ClaimedEvent, reason: str) -> None:
    logger.error("relay.event_parked", event_id=row.id, event_type=row.event_type, reason=reason)
    facts = {
        "event_id": row.id,
        "event_type": row.event_type,
        "aggregate_id": row.aggregate_id,
        "reason": reason[:1000],
    }
    await writer.add_alert(
        alert(EventType.ALERT_OUTBOX_EVENT_PARKED, row.id, facts),
        merchant_id=row.merchant_id,
        livemode=bool(json.loads(row.payload_text).get("livemode", False)),
    )
