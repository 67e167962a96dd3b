"""Every query the relay and the outbox commands run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

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


_CLAIMED_COLUMNS = (
    OutboxEvent.position,
    OutboxEvent.id,
    OutboxEvent.topic,
    OutboxEvent.event_type,
    OutboxEvent.merchant_id,
    OutboxEvent.aggregate_id,
    OutboxEvent.traceparent,
    cast(OutboxEvent.payload, Text).label("payload_text"),
    OutboxEvent.created_at,
    OutboxEvent.publish_attempts,
    OutboxEvent.subject,
)


def _claim_query() -> Executable:
    earlier = aliased(OutboxEvent)
    # OFFSET 0 keeps the planner from turning this into an anti-join: with
    # statistics saying "almost nothing unpublished" it would rescan the whole
    # backlog for every candidate row (quadratic once a backlog builds up).
    blocked = exists(
        select(earlier.position)
        .where(
            earlier.aggregate_id == OutboxEvent.aggregate_id,
            earlier.published_at.is_(None),
            earlier.position < OutboxEvent.position,
        )
        .offset(0)
    )
    return (
        select(*_CLAIMED_COLUMNS)
        .where(OutboxEvent.published_at.is_(None), OutboxEvent.parked_at.is_(None), ~blocked)
        .order_by(OutboxEvent.position)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=OutboxEvent)
    )


# Built once: constructing the claim cost more CPU than running it (at a few events
# per claim, that was most of the relay's CPU per event).
_CLAIM = _claim_query()
_MARK_PUBLISHED = (
    update(OutboxEvent)
    .where(OutboxEvent.position.in_(bindparam("positions", expanding=True)))
    .values(published_at=func.now(), publish_attempts=OutboxEvent.publish_attempts + 1)
    .execution_options(synchronize_session=False)  # the relay loads no ORM objects
)


@dataclass(frozen=True, slots=True)
class OutboxLag:
    unpublished: int
    oldest_age_seconds: float
    parked: int


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, limit: int) -> list[ClaimedEvent]:
        """Lock up to ``limit`` publishable rows that no other relay holds.

        Only the earliest unpublished event of each aggregate is publishable, so a
        later event never overtakes an earlier one that is locked, failing or parked.
        """
        rows = await self._session.execute(_CLAIM, {"limit": limit})
        return [ClaimedEvent(**row._asdict()) for row in rows]

    async def mark_published(self, positions: Iterable[int]) -> None:
        await self._session.execute(_MARK_PUBLISHED, {"positions": list(positions)})

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
