"""Payouts' test helpers over HTTP: a merchant with settled funds in the API's database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from app.db.session import create_engine, session_factory
from app.db.uow import unit_of_work_factory
from app.ledger import service as ledger
from app.settings import Settings
from tests.integration.ledger_support import post_payment
from tests.support import ApiProcess, Merchant, create_merchant, pix_intent, waive_fees


async def funded_api_merchant(
    api: ApiProcess,
    db: psycopg.Connection[Any],
    database_url: str,
    amount: int,
    *,
    settled: bool = True,
) -> Merchant:
    """A new merchant without fees whose PIX payment of ``amount`` is settled (all of
    it available), or only posted (pending) if not ``settled``."""
    merchant = waive_fees(create_merchant("Loja Repasse HTTP"))
    async with httpx.AsyncClient(base_url=api.url, headers=merchant.headers) as client:
        response = await client.post("/v1/payment_intents", json=pix_intent(amount=amount))
    intent_id = response.json()["id"]
    # Stand in for the charge worker, which records the payment and posts its entry.
    db.execute(
        "UPDATE payment_intents SET status = 'succeeded', amount_received = amount WHERE id = %s",
        (intent_id,),
    )
    await post_payment(database_url, intent_id)
    if settled:
        await _settle(database_url)
    return merchant


async def _settle(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    try:
        new_uow = unit_of_work_factory(session_factory(engine))
        await ledger.settle_due_balances(new_uow, datetime.now(UTC), 1000)
    finally:
        await engine.dispose()
