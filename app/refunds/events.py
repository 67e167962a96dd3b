"""Writing a refund's event: bump its sequence, carry its public view."""

from __future__ import annotations

from app.db.models import Refund
from app.db.uow import UnitOfWork
from app.domain.events import EventType
from app.payments.events import write_event
from app.refunds.schemas import refund_view


async def record_refund_event(uow: UnitOfWork, refund: Refund, event_type: EventType) -> str:
    """A refund's event; the refund's sequence goes up by one."""
    refund.sequence += 1
    return await write_event(uow, refund, "refund", refund_view(refund), event_type)
