"""What the console reads that no area's queries give: parked outbox rows, merchants'
own gateway orders, and everything recorded about one intent (its refunds, events,
their webhook deliveries and ledger lines). Read only."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Merchant, OutboxEvent, Refund
from app.db.money_models import LedgerEntry, LedgerLine
from app.db.webhook_models import WebhookDelivery

SHOWN_ROWS = 100


@dataclass(frozen=True, slots=True)
class EntryLine:
    entry: LedgerEntry
    line: LedgerLine


class ConsoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def parked_events(self) -> list[OutboxEvent]:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.parked_at.is_not(None), OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.position)
            .limit(SHOWN_ROWS)
        )
        return list((await self._session.execute(query)).scalars())

    async def merchant_priorities(self) -> list[Merchant]:
        """Merchants with an order of their own (the others follow the default)."""
        query = (
            select(Merchant)
            .where(Merchant.gateway_priority.is_not(None))
            .order_by(Merchant.id)
            .limit(SHOWN_ROWS)
        )
        return list((await self._session.execute(query)).scalars())

    async def refunds_of(self, intent_id: str) -> list[Refund]:
        query = (
            select(Refund)
            .where(Refund.payment_intent_id == intent_id)
            .order_by(Refund.created_at, Refund.id)
        )
        return list((await self._session.execute(query)).scalars())

    async def events_of(self, aggregate_ids: Collection[str]) -> list[OutboxEvent]:
        query = (
            select(OutboxEvent)
            .where(OutboxEvent.aggregate_id.in_(aggregate_ids))
            .order_by(OutboxEvent.position)
            .limit(SHOWN_ROWS)
        )
        return list((await self._session.execute(query)).scalars())

    async def deliveries_of(self, event_ids: Collection[str]) -> list[WebhookDelivery]:
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_(event_ids))
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
            .limit(SHOWN_ROWS)
        )
        return list((await self._session.execute(query)).scalars())

    async def ledger_lines_of(self, source_ids: Collection[str]) -> list[EntryLine]:
        query = (
            select(LedgerEntry, LedgerLine)
            .join(LedgerLine, LedgerLine.entry_id == LedgerEntry.id)
            .where(LedgerEntry.source_id.in_(source_ids))
            .order_by(LedgerEntry.created_at, LedgerLine.id)
            .limit(SHOWN_ROWS)
        )
        return [EntryLine(entry, line) for entry, line in await self._session.execute(query)]
