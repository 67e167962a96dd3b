"""Queries of refunds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Refund
from app.domain.intents import RefundStatus


class RefundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, refund: Refund) -> None:
        self._session.add(refund)

    async def get_for_update(self, refund_id: str) -> Refund | None:
        """Any merchant's refund, row-locked: for the charge worker."""
        result = await self._session.execute(
            select(Refund).where(Refund.id == refund_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def get(self, merchant_id: str, refund_id: str) -> Refund | None:
        return (
            await self._session.execute(
                select(Refund).where(Refund.id == refund_id, Refund.merchant_id == merchant_id)
            )
        ).scalar_one_or_none()

    async def find(self, refund_id: str) -> Refund | None:
        """Any merchant's refund, unlocked: to read before calling a gateway."""
        return await self._session.get(Refund, refund_id)

    async def pending_since(self, before: datetime, limit: int) -> list[str]:
        """Refunds still pending that were created before ``before``, oldest first."""
        result = await self._session.execute(
            select(Refund.id)
            .where(Refund.status == RefundStatus.PENDING.value, Refund.created_at < before)
            .order_by(Refund.created_at)
            .limit(limit)
        )
        return list(result.scalars())
