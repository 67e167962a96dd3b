"""Writing a payout's event: bump its sequence, carry its public view."""

from __future__ import annotations

from app.db.money_models import Payout
from app.db.uow import UnitOfWork
from app.domain.events import EventType
from app.payments.events import write_event
from app.payouts.schemas import payout_view


async def record_payout_event(uow: UnitOfWork, payout: Payout, event_type: EventType) -> str:
    """A payout's event; the payout's sequence goes up by one."""
    payout.sequence += 1
    return await write_event(uow, payout, "payout", payout_view(payout), event_type)
