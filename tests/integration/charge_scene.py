"""A small charging scene without queues: its own database and merchant, the gateway
simulator over HTTP (sending no callbacks), and intents charged through the charge
service itself. Tests call services and scheduler jobs directly, so only they move
money here."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import psycopg
from redis import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork, unit_of_work_factory
from app.domain.caller import Caller
from app.domain.errors import RetryLater
from app.gateways.port import GatewayName
from app.gateways.registry import Gateways
from app.merchants.service import create_merchant
from app.payments.charging import ChargeContext, charge_intent
from app.payments.consumer import charge_context
from app.payments.intents import create_intent
from app.payments.schemas import CreatePaymentIntent
from app.scheduler.jobs import JobContext
from app.settings import Settings
from tests.gateway_sim import Simulator, running_simulator
from tests.integration.relay_support import CIPHER, POLICY
from tests.integration.world import isolated
from tests.support import pix_intent

GATEWAY_TIMEOUT_SECONDS = 1
SIM_HANG_SECONDS = 2  # longer than the gateway timeout: a "timeout" loses the answer
INBOX_RETENTION = timedelta(days=30)
CIRCUIT_OPEN_SECONDS = 60


@dataclass
class Scene:
    database_url: str
    prefix: str
    sim: Simulator
    sessions: async_sessionmaker[AsyncSession]
    gateways: Gateways
    caller: Caller

    def context(self, **overrides: Any) -> JobContext:
        """What the scheduler's jobs run with."""
        context = JobContext(
            new_uow=unit_of_work_factory(self.sessions),
            gateways=self.gateways,
            stop=asyncio.Event(),
            inbox_retention=INBOX_RETENTION,
        )
        return replace(context, **overrides)

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    async def new_pix_intent(self) -> str:
        return await self.new_intent(pix_intent())

    async def new_intent(self, body: dict[str, Any]) -> str:
        async with SqlUnitOfWork(self.sessions) as uow:
            intent = await create_intent(
                uow, self.caller, CreatePaymentIntent(**body), POLICY, CIPHER
            )
            await uow.commit()
        return intent.id

    def worker_context(self, *priority: GatewayName, redis_url: str | None = None) -> ChargeContext:
        """What the charge worker runs on, against this scene's simulator and database."""
        chosen = {"gateway_priority": ",".join(g.value for g in priority)} if priority else {}
        return charge_context(
            self.sim.gateway_settings(
                database_url=self.database_url,
                redis_url=redis_url or os.environ["PIXWAVE_REDIS_URL"],
                document_key=os.environ["PIXWAVE_DOCUMENT_KEY"],
                name_prefix=self.prefix,
                gateway_timeout_seconds=GATEWAY_TIMEOUT_SECONDS,
                **chosen,
            )
        )

    async def charge(
        self, intent_id: str, *priority: GatewayName, redis_url: str | None = None
    ) -> None:
        """One round of the charge worker; what a failed try leaves behind commits too,
        as the worker's RetryLater(keep_progress) does."""
        context = self.worker_context(*priority, redis_url=redis_url)
        try:
            async with SqlUnitOfWork(self.sessions) as uow:
                try:
                    await charge_intent(uow, context, intent_id)
                except RetryLater as exc:
                    if not exc.keep_progress:
                        raise
                await uow.commit()
        finally:
            await context.gateways.close()

    async def charged_pix_intent(self, gateway: GatewayName) -> str:
        intent_id = await self.new_pix_intent()
        await self.charge(intent_id, gateway)
        return intent_id

    def open_circuit(self, gateway: GatewayName) -> None:
        """As five failures in a row would (app/gateways/health.py)."""
        self._redis.set(f"{self.prefix}:gateway:{gateway.value}:open", 1, ex=CIRCUIT_OPEN_SECONDS)

    def heal_gateways(self) -> None:
        """No faults at the simulator, every circuit closed."""
        self.sim.admin("DELETE", "/faults")
        for key in self._redis.scan_iter(f"{self.prefix}:gateway:*"):
            self._redis.delete(key)

    @property
    def _redis(self) -> Redis:
        return Redis.from_url(os.environ["PIXWAVE_REDIS_URL"])

    def intent(self, intent_id: str) -> dict[str, Any]:
        [(status, reason, received)] = self.rows(
            "SELECT status, cancellation_reason, amount_received FROM payment_intents "
            "WHERE id = %s",
            (intent_id,),
        )
        return {"status": status, "cancellation_reason": reason, "amount_received": received}

    def attempts(self, intent_id: str) -> list[dict[str, Any]]:
        columns = ("gateway", "outcome", "charge_status", "reference", "late_payment", "routing")
        rows = self.rows(
            "SELECT gateway, outcome, charge_status, gateway_reference, late_payment, routing "
            "FROM payment_attempts WHERE payment_intent_id = %s ORDER BY number",
            (intent_id,),
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def attempt(self, intent_id: str) -> dict[str, Any]:
        [attempt] = self.attempts(intent_id)
        return attempt

    def events(self, aggregate_id: str) -> list[str]:
        return [
            row[0]
            for row in self.rows(
                "SELECT event_type FROM outbox WHERE aggregate_id = %s ORDER BY position",
                (aggregate_id,),
            )
        ]

    def sim_charge(self, reference: str) -> dict[str, Any]:
        [charge] = [c for c in self.sim.ledger()["charges"] if c["reference"] == reference]
        return charge


@contextmanager
def scene_simulator() -> Iterator[Simulator]:
    with running_simulator(extra_args=("--timeout-hang-seconds", str(SIM_HANG_SECONDS))) as sim:
        yield sim


@asynccontextmanager
async def open_scene(service_env: dict[str, str], sim: Simulator) -> AsyncIterator[Scene]:
    database_url, prefix = isolated(service_env, "scheduler")
    engine = create_engine(Settings(database_url=database_url))
    sessions = session_factory(engine)
    gateways = sim.open_gateways(gateway_timeout_seconds=GATEWAY_TIMEOUT_SECONDS)
    async with SqlUnitOfWork(sessions) as uow:
        issued = await create_merchant(uow, "Loja Cena")
        await uow.commit()
    caller = Caller(issued.merchant_id, livemode=False, api_key_id=issued.key_id)
    try:
        yield Scene(database_url, prefix, sim, sessions, gateways, caller)
    finally:
        await gateways.close()
        await engine.dispose()
