"""Queries of payouts and their sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.money_models import Payout, PayoutAttempt
from app.domain.payouts import PayoutStatus

# One Efí account sends one Pix at a time: pg_advisory_lock(namespace, hashtext(gateway)).
_SEND_LOCK_NAMESPACE = 7_302_002
_LOCK = "SELECT pg_advisory_lock(:namespace, hashtext(:gateway))"
_UNLOCK = "SELECT pg_advisory_unlock(:namespace, hashtext(:gateway))"


class PayoutRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, payout: Payout) -> None:
        self._session.add(payout)
        await self._session.flush()

    def add_attempt(self, attempt: PayoutAttempt) -> None:
        self._session.add(attempt)

    async def get(self, merchant_id: str, payout_id: str) -> Payout | None:
        return (
            await self._session.execute(
                select(Payout).where(Payout.id == payout_id, Payout.merchant_id == merchant_id)
            )
        ).scalar_one_or_none()

    async def get_for_update(self, payout_id: str) -> Payout | None:
        """Any merchant's payout, row-locked and read afresh (a unit may hold it from
        before its last commit): for the charge worker and the scheduler."""
        result = await self._session.execute(
            select(Payout)
            .where(Payout.id == payout_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def find(self, payout_id: str) -> Payout | None:
        """Any merchant's payout, unlocked: to read before calling a gateway."""
        return await self._session.get(Payout, payout_id)

    async def last_attempt(self, payout_id: str) -> PayoutAttempt | None:
        return (
            await self._session.execute(
                select(PayoutAttempt)
                .where(PayoutAttempt.payout_id == payout_id)
                .order_by(PayoutAttempt.number.desc())
                .limit(1)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def payout_of_send(self, id_envio: str) -> str | None:
        """The payout whose attempt was sent under ``id_envio``, if it is ours."""
        return await self._session.scalar(
            select(PayoutAttempt.payout_id).where(PayoutAttempt.id_envio == id_envio)
        )

    async def page(
        self,
        merchant_id: str,
        *,
        livemode: bool,
        status: PayoutStatus | None,
        starting_after: str | None,
        limit: int,
    ) -> list[Payout]:
        query = select(Payout).where(Payout.merchant_id == merchant_id, Payout.livemode == livemode)
        if status is not None:
            query = query.where(Payout.status == status.value)
        if starting_after is not None:
            query = query.where(Payout.id < starting_after)
        query = query.order_by(Payout.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())

    async def in_transit_since(self, before: datetime, limit: int) -> list[str]:
        """Payouts in transit unchanged since before ``before``, oldest first."""
        result = await self._session.execute(
            select(Payout.id)
            .where(Payout.status == PayoutStatus.IN_TRANSIT.value, Payout.updated_at < before)
            .order_by(Payout.updated_at)
            .limit(limit)
        )
        return list(result.scalars())

    @asynccontextmanager
    async def sending(self, gateway: str) -> AsyncIterator[None]:
        """Hold the gateway account's send lock while the block runs: a session-level
        advisory lock on a connection of its own in autocommit, so no transaction stays
        open around the gateway's call, and a process that dies lets go of it."""
        engine = self._session.bind
        assert isinstance(engine, AsyncEngine)
        lock = {"namespace": _SEND_LOCK_NAMESPACE, "gateway": gateway}
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(_LOCK), lock)
            try:
                yield
            finally:
                await autocommit.execute(text(_UNLOCK), lock)
