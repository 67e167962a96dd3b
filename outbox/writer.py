"""Write events into the outbox inside the caller's unit of work.

The row commits or rolls back with the business rows beside it; a trigger
(see the migration) sends ``NOTIFY pixwave_outbox`` on insert so a relay wakes.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import OutboxEvent
from app.domain.events import Aggregate, EventType, build_envelope, topic_for
from app.domain.ids import new_id
from app.tracing import current_traceparent, new_traceparent

NOTIFY_CHANNEL = "pixwave_outbox"


class OutboxWriter:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_event(
        self,
        *,
        event_type: EventType,
        merchant_id: str,
        livemode: bool,
        aggregate: Aggregate,
        data_object: dict[str, Any],
    ) -> str:
        event_id = new_id("evt")
        envelope = build_envelope(
            event_id=event_id,
            event_type=event_type,
            created=int(time.time()),
            merchant_id=merchant_id,
            livemode=livemode,
            aggregate=aggregate,
            data_object=data_object,
        )
        # A Core insert: outbox rows are never read back here, so the ORM's unit of
        # work would only add cost on the API's hottest path.
        await self._session.execute(
            insert(OutboxEvent).values(
                id=event_id,
                topic=topic_for(event_type).value,
                event_type=event_type.value,
                merchant_id=merchant_id,
                aggregate_type=aggregate.type,
                aggregate_id=aggregate.id,
                aggregate_sequence=aggregate.sequence,
                payload=envelope,
                traceparent=current_traceparent.get() or new_traceparent(),
            )
        )
        return event_id
