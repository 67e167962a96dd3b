"""Writing an intent's event (bump its sequence, carry its public view) and an
operator alert about an intent; refunds write theirs with ``write_event`` too."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.db.models import PaymentIntent, Refund
from app.db.money_models import Payout
from app.db.uow import UnitOfWork
from app.domain.alerts import alert
from app.domain.events import Aggregate, EventType
from app.payments.metrics import SECONDS_TO_TERMINAL
from app.payments.schemas import intent_view
from app.tracing import current_traceparent


async def record_event(uow: UnitOfWork, intent: PaymentIntent, event_type: EventType) -> str:
    """An intent's event; the intent's sequence goes up by one."""
    intent.sequence += 1
    _observe_end(intent, event_type)
    # The trace it was created in: callbacks about it continue that trace.
    intent.traceparent = intent.traceparent or current_traceparent.get()
    return await write_event(uow, intent, "payment_intent", intent_view(intent), event_type)


async def write_event(
    uow: UnitOfWork,
    record: PaymentIntent | Refund | Payout,
    aggregate_type: str,
    view: Mapping[str, object],
    event_type: EventType,
) -> str:
    """Every event repeats the aggregate's new sequence, so consumers can drop stale ones."""
    return await uow.outbox.add_event(
        event_type=event_type,
        merchant_id=record.merchant_id,
        livemode=record.livemode,
        aggregate=Aggregate(aggregate_type, record.id, record.sequence),
        data_object=dict(view),
    )


async def record_alert(
    uow: UnitOfWork, event_type: EventType, intent: PaymentIntent, details: dict[str, Any]
) -> str:
    """An operator alert about an intent, for the alerts topic, in the same transaction:
    the intent's facts (amount, status, merchant), then the ``details`` of this alert."""
    facts = {
        "payment_intent": intent.id,
        "merchant": intent.merchant_id,
        "amount": intent.amount,
        "currency": intent.currency,
        "status": intent.status,
        **details,
    }
    return await uow.outbox.add_alert(
        alert(event_type, intent.id, facts),
        merchant_id=intent.merchant_id,
        livemode=intent.livemode,
    )


_ENDINGS = {
    EventType.PAYMENT_INTENT_SUCCEEDED: "succeeded",
    EventType.PAYMENT_INTENT_PAYMENT_FAILED: "failed",
    EventType.PAYMENT_INTENT_CANCELED: "canceled",
}


def _observe_end(intent: PaymentIntent, event_type: EventType) -> None:
    status = _ENDINGS.get(event_type)
    if status is not None:
        seconds = (datetime.now(UTC) - intent.created_at).total_seconds()
        SECONDS_TO_TERMINAL.labels(intent.method_type, status).observe(max(seconds, 0.0))
