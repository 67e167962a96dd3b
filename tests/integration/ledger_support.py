"""Standing in for the charge worker in tests that succeed an intent by SQL: the ledger
entry its apply_charge would have posted, through the same function."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork
from app.ledger.service import post_charge
from app.payments.repository import IntentRepository
from app.settings import Settings


async def post_payment(database_url: str, intent_id: str, gateway: str = "mercadopago") -> None:
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            intent = await uow.repository(IntentRepository).get_for_update(intent_id)
            assert intent is not None
            await post_charge(uow, intent, gateway, datetime.now(UTC))
            await uow.commit()
    finally:
        await engine.dispose()


def post_payment_now(database_url: str, intent_id: str) -> None:
    """From a synchronous test (no event loop running)."""
    asyncio.run(post_payment(database_url, intent_id))
