"""Every query the relay and the outbox commands run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncCursor
from sqlalchemy import and_, delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OutboxEvent


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """What the relay needs of a row; the payload stays the text PostgreSQL returns."""

    position: int
    id: str
    topic: str
    event_type: str
    merchant_id: str
    aggregate_id: str
    traceparent: str | None
    payload_text: str
    created_at: datetime
    publish_attempts: int
    subject: str | None = None


# The relay's happy path runs these on its lane's own connection, prepared once per
# connection: through the ORM, building and compiling them cost more CPU than running
# them (at one event per claim, that was most of the relay's CPU per event).
# Columns in ClaimedEvent's field order. OFFSET 0 keeps the planner from turning the
# NOT EXISTS into an anti-join: with statistics saying "almost nothing unpublished" it
# would rescan the whole backlog for every candidate row (quadratic once a backlog
# builds up).
CLAIM_SQL = """
SELECT outbox.position, outbox.id, outbox.topic, outbox.event_type, outbox.merchant_id,
       outbox.aggregate_id, outbox.traceparent, CAST(outbox.payload AS TEXT) AS payload_text,
       outbox.created_at, outbox.publish_attempts, outbox.subject
FROM outbox
WHERE outbox.published_at IS NULL AND outbox.parked_at IS NULL
  AND NOT EXISTS (
    SELECT earlier.position FROM outbox AS earlier
    WHERE earlier.aggregate_id = outbox.aggregate_id
      AND earlier.published_at IS NULL
      AND earlier.position < outbox.position
    OFFSET 0
  )
ORDER BY outbox.position
LIMIT %(limit)s
FOR UPDATE OF outbox SKIP LOCKED
"""
MARK_PUBLISHED_SQL = """
UPDATE outbox SET published_at = now(), publish_attempts = publish_attempts + 1
WHERE position = ANY(%(positions)s::bigint[])
"""


async def claim(cursor: AsyncCursor[Any], limit: int) -> list[ClaimedEvent]:
    """Lock up to ``limit`` publishable rows that no other relay holds.

    Only the earliest unpublished event of each aggregate is publishable, so a
    later event never overtakes an earlier one that is locked, failing or parked.
    """
    await cursor.execute(CLAIM_SQL, {"limit": limit}, prepare=True)
    return [ClaimedEvent(*row) for row in await cursor.fetchall()]


async def mark_published(cursor: AsyncCursor[Any], positions: list[int]) -> None:
    await cursor.execute(MARK_PUBLISHED_SQL, {"positions": positions}, prepare=True)


@dataclass(frozen=True, slots=True)
class OutboxLag:
    unpublished: int
    oldest_age_seconds: float
    parked: int


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record_failure(self, position: int, error: str, *, counts: bool) -> None:
        """Keep the last error; ``counts`` adds the attempt toward parking the row."""
        await self._session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.position == position)
            .values(publish_attempts=OutboxEvent.publish_attempts + int(counts), last_error=error)
        )

    async def park(self, position: int, reason: str) -> None:
        await self._session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.position == position)
            .values(parked_at=func.now(), last_error=reason)
        )

    async def lag(self) -> OutboxLag:
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.coalesce(
                        func.extract("epoch", func.now() - func.min(OutboxEvent.created_at)), 0
                    ),
                    func.count().filter(OutboxEvent.parked_at.is_not(None)),
                ).where(OutboxEvent.published_at.is_(None))
            )
        ).one()
        return OutboxLag(unpublished=row[0], oldest_age_seconds=float(row[1]), parked=row[2])

    async def delete_published_before(self, cutoff: datetime, limit: int) -> int:
        doomed = (
            select(OutboxEvent.position)
            .where(OutboxEvent.published_at < cutoff)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._session.execute(
            delete(OutboxEvent).where(OutboxEvent.position.in_(doomed))
        )
        return int(getattr(result, "rowcount", 0))

    async def replay(self, *, aggregate_id: str | None, since: datetime | None) -> int:
        """Mark matching events unpublished (and unparked) so the relay sends them again."""
        conditions = []
        if aggregate_id is not None:
            conditions.append(OutboxEvent.aggregate_id == aggregate_id)
        if since is not None:
            conditions.append(OutboxEvent.created_at >= since)
        result = await self._session.execute(
            update(OutboxEvent)
            .where(
                and_(true(), *conditions),
                or_(OutboxEvent.published_at.is_not(None), OutboxEvent.parked_at.is_not(None)),
            )
            .values(published_at=None, parked_at=None, last_error=None)
        )
        return int(getattr(result, "rowcount", 0))
