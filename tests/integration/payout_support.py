"""Payouts' test helpers: a merchant with settled funds (in a scene's database, or over
HTTP in the API's), a payout created, sent as the charge worker would and followed up
as the scheduler would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork, unit_of_work_factory
from app.domain.caller import Caller
from app.domain.charges import ChargeStatus
from app.domain.errors import RetryLater
from app.domain.intents import IntentStatus, PaymentMethodType
from app.domain.ledger import Pricing
from app.gateways.port import Charge, GatewayName
from app.ledger import service as ledger
from app.ledger.repository import LedgerRepository
from app.merchants import service as merchants
from app.payments.charges import apply_charge
from app.payments.intents import create_intent
from app.payments.repository import IntentRepository
from app.payments.schemas import CreatePaymentIntent
from app.payouts.schemas import CreatePayout
from app.payouts.service import create_payout, follow_up_payout, send_payout
from app.settings import Settings
from tests.integration.charge_scene import Scene
from tests.integration.ledger_support import post_payment
from tests.integration.relay_support import CIPHER, POLICY
from tests.support import ApiProcess, Merchant, create_merchant, pix_intent, waive_fees

WAIT_SECONDS = 10.0
EMAIL_KEY = {"type": "email", "key": "maria@example.com"}


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


async def funded_merchant(
    scene: Scene, amount: int, gateway: GatewayName = GatewayName.EFI
) -> Caller:
    """A merchant with no fees whose ``amount`` was paid through ``gateway`` and settled
    (the payment posted on the books only: the gateway's own books do not have it)."""
    async with SqlUnitOfWork(scene.sessions) as uow:
        issued = await merchants.create_merchant(uow, "Loja Repasse")
        for method in PaymentMethodType:
            await uow.repository(LedgerRepository).set_pricing(
                issued.merchant_id, method, Pricing(0, 0, 0)
            )
        await uow.commit()
    caller = Caller(issued.merchant_id, livemode=False, api_key_id=issued.key_id)
    async with SqlUnitOfWork(scene.sessions) as uow:
        intent = await create_intent(
            uow, caller, CreatePaymentIntent(**pix_intent(amount)), POLICY, CIPHER
        )
        intent.status = IntentStatus.REQUIRES_ACTION
        await uow.commit()
    charge = Charge(gateway, f"ref-{intent.id}", ChargeStatus.PAID, "CONCLUIDA", amount)
    async with SqlUnitOfWork(scene.sessions) as uow:
        locked = await uow.repository(IntentRepository).get_for_update(intent.id)
        assert locked is not None
        await apply_charge(uow, locked, charge)
        await uow.commit()
    await ledger.settle_due_balances(unit_of_work_factory(scene.sessions), datetime.now(UTC), 100)
    return caller


async def new_payout(scene: Scene, caller: Caller, amount: int, **body: Any) -> str:
    command = CreatePayout(
        **{"amount": amount, "currency": "brl", "destination": EMAIL_KEY, **body}
    )
    async with SqlUnitOfWork(scene.sessions) as uow:
        payout = await create_payout(uow, caller, command, CIPHER)
        await uow.commit()
    return payout.id


async def send_payout_once(scene: Scene, payout_id: str) -> bool:
    """One delivery of ``payout.created`` to the charge worker; True if it asked to be
    called again (its progress committed, as the worker's RetryLater(keep_progress) does)."""
    context = scene.worker_context()
    try:
        async with SqlUnitOfWork(scene.sessions) as uow:
            try:
                await send_payout(uow, context, payout_id)
            except RetryLater as exc:
                if not exc.keep_progress:
                    raise
                await uow.commit()
                return True
            await uow.commit()
    finally:
        await context.gateways.close()
    return False


async def followed_up_until_final(scene: Scene, payout_id: str) -> None:
    """The scheduler's read of the send, while it is in transit."""
    new_uow = unit_of_work_factory(scene.sessions)
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while payout_status(scene, payout_id) == "in_transit":
        assert asyncio.get_running_loop().time() < deadline, scene.events(payout_id)
        if not await follow_up_payout(new_uow, scene.gateways, CIPHER, payout_id):
            await asyncio.sleep(0.1)


def payout_status(scene: Scene, payout_id: str) -> str:
    [(status,)] = scene.rows("SELECT status FROM payouts WHERE id = %s", (payout_id,))
    return str(status)
