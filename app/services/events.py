"""Writing an aggregate's event: bump its sequence, carry its public view."""

from __future__ import annotations

from typing import Any

from app.db.models import PaymentIntent, Refund
from app.db.uow import UnitOfWork
from app.domain.events import Aggregate, EventType
from app.services.views import intent_view, refund_view


async def record_event(
    uow: UnitOfWork, record: PaymentIntent | Refund, event_type: EventType
) -> str:
    """Every event repeats the aggregate's new sequence, so consumers can drop stale ones."""
    record.sequence += 1
    if isinstance(record, PaymentIntent):
        aggregate_type, view = "payment_intent", intent_view(record)
    else:
        aggregate_type, view = "refund", refund_view(record)
    return await uow.outbox.add_event(
        event_type=event_type,
        merchant_id=record.merchant_id,
        livemode=record.livemode,
        aggregate=Aggregate(aggregate_type, record.id, record.sequence),
        data_object=view,
    )


async def record_alert(
    uow: UnitOfWork, event_type: EventType, intent: PaymentIntent, details: dict[str, Any]
) -> str:
    """An operator alert about an intent, for the alerts topic, in the same transaction."""
    return await uow.outbox.add_event(
        event_type=event_type,
        merchant_id=intent.merchant_id,
        livemode=intent.livemode,
        aggregate=Aggregate("payment_intent_alert", intent.id, intent.sequence),
        data_object={"payment_intent": intent.id, **details},
    )
