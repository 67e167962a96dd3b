"""Write events into the outbox inside the caller's unit of work.

The row commits or rolls back with the business rows beside it; a trigger
(see the migration) sends ``NOTIFY pixwave_outbox`` on insert so a relay wakes.
Every row carries the trace context of the work that wrote it, as a new (producer) span.
"""

from __future__ import annotations

import time
from typing import Any, cast

from opentelemetry.trace import SpanKind
from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AlertSequence, OutboxEvent
from app.domain.alerts import ALERT_AGGREGATE_TYPE, Alert
from app.domain.events import Aggregate, EventType, Topic, build_envelope, topic_for
from app.domain.ids import new_id
from app.tracing import event_attributes, traced

NOTIFY_CHANNEL = "pixwave_outbox"
# A Core insert on the table, built once: outbox rows are never read back here, and
# the ORM's bulk-insert path and a statement built per row cost more than the insert.
_INSERT_EVENT = insert(cast(Table, OutboxEvent.__table__))


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
        if topic_for(event_type) is Topic.ALERTS:
            raise ValueError(f"{event_type} is an alert: write it with add_alert")
        return await self._insert(event_type, merchant_id, livemode, aggregate, data_object)

    async def add_alert(self, alert: Alert, *, merchant_id: str, livemode: bool) -> str:
        """An alert, sequenced within its own aggregate, with the Subject SNS sends."""
        aggregate = Aggregate(
            ALERT_AGGREGATE_TYPE, alert.aggregate_id, await self._next_sequence(alert)
        )
        return await self._insert(
            alert.type, merchant_id, livemode, aggregate, alert.data_object, alert.subject
        )

    async def _next_sequence(self, alert: Alert) -> int:
        statement = (
            upsert(AlertSequence)
            .values(aggregate_id=alert.aggregate_id, sequence=1)
            .on_conflict_do_update(
                index_elements=[AlertSequence.aggregate_id],
                set_={"sequence": AlertSequence.sequence + 1},
            )
            .returning(AlertSequence.sequence)
        )
        sequence: int = (await self._session.execute(statement)).scalar_one()
        return sequence

    async def _insert(
        self,
        event_type: EventType,
        merchant_id: str,
        livemode: bool,
        aggregate: Aggregate,
        data_object: dict[str, Any],
        subject: str | None = None,
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
        attributes = event_attributes(event_id, event_type.value, aggregate.id)
        with traced(
            f"outbox.write {event_type.value}", kind=SpanKind.PRODUCER, attributes=attributes
        ) as traceparent:
            await self._session.execute(
                _INSERT_EVENT,
                {
                    "id": event_id,
                    "topic": topic_for(event_type).value,
                    "event_type": event_type.value,
                    "merchant_id": merchant_id,
                    "aggregate_type": aggregate.type,
                    "aggregate_id": aggregate.id,
                    "aggregate_sequence": aggregate.sequence,
                    "payload": envelope,
                    "traceparent": traceparent,
                    "subject": subject,
                },
            )
        return event_id
