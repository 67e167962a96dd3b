"""`pixwave worker webhooks`: fans each merchant-visible event out into one delivery
per endpoint, and a dispatcher beside the queue signs and POSTs due deliveries, each
endpoint on its own retry schedule for days."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from loguru import logger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.uow import UnitOfWork, UnitOfWorkFactory, unit_of_work_factory
from app.domain.events import MERCHANT_EVENTS
from app.redis_fallback import open_redis
from app.security import DocumentCipher
from app.settings import Settings
from app.webhooks.deliveries import (
    WebhookSender,
    attempt_delivery,
    claim_due,
    fan_out,
)
from app.webhooks.pinned_http import PinnedClients
from app.webhooks.places import EndpointPlaces
from app.webhooks.repository import ClaimedDelivery
from workers.runtime.consumer import Consumer
from workers.runtime.envelope import Event

# A fan-out that fails (the database is away) comes back after 2 s, 4 s … at most 5 min.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
# The dispatcher looks for due deliveries this often, and at once after a fan-out.
DUE_POLL_SECONDS = 1.0
# Tries one process runs at once; each endpoint also has its in-flight cap.
MAX_TRIES_IN_FLIGHT = 64
DISPATCH_ERROR_PAUSE_SECONDS = 2.0


def webhook_sender(settings: Settings) -> WebhookSender:
    if settings.redis_url is None:
        raise ValueError("PIXWAVE_REDIS_URL is not set")
    return WebhookSender(
        clients=PinnedClients(settings.webhook_timeout_seconds),
        cipher=DocumentCipher(settings.document_key_bytes()),
        timeout_seconds=settings.webhook_timeout_seconds,
        retry_base_seconds=settings.webhook_retry_base_seconds,
        retry_horizon=timedelta(seconds=settings.webhook_retry_horizon_seconds),
        places=EndpointPlaces(
            open_redis(settings.redis_url),
            namespace=settings.name_prefix,
            limit=settings.webhook_max_in_flight_per_endpoint,
            hold_seconds=settings.webhook_timeout_seconds,
        ),
        allow_private_urls_in_test=settings.webhook_allow_private_urls,
    )


class DeliveryDispatcher:
    """Takes due deliveries and runs one try of each, up to MAX_TRIES_IN_FLIGHT at once;
    when it stops, it lets tries finish and closes the kept connections."""

    def __init__(self, sender: WebhookSender, *, grace_seconds: float) -> None:
        self._sender = sender
        self._grace_seconds = grace_seconds
        self._wake = asyncio.Event()
        self._tries: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, sessions: async_sessionmaker[AsyncSession], stop: asyncio.Event) -> None:
        new_uow = unit_of_work_factory(sessions)
        stopping = asyncio.create_task(stop.wait())
        stopping.add_done_callback(lambda _: self.wake())
        while not stop.is_set():
            room = MAX_TRIES_IN_FLIGHT - len(self._tries)
            if room > 0 and await self._start_due(new_uow, room) == room:
                continue  # more may be due
            await self._pause()
        await self._drain()
        await self._sender.clients.aclose()

    async def _start_due(self, new_uow: UnitOfWorkFactory, room: int) -> int:
        try:
            claimed = await claim_due(new_uow, self._sender, room)
        except SQLAlchemyError as exc:
            logger.warning("webhook.dispatch_failed", error=repr(exc))
            await asyncio.sleep(DISPATCH_ERROR_PAUSE_SECONDS)
            return 0
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(new_uow, delivery))
            self._tries.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    async def _attempt(self, new_uow: UnitOfWorkFactory, delivery: ClaimedDelivery) -> None:
        try:
            await attempt_delivery(new_uow, self._sender, delivery)
        except Exception as exc:  # a bug: the lease brings the delivery back; go on
            logger.error("webhook.try_failed", delivery_id=delivery.id, error=repr(exc))

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tries.discard(task)
        if len(self._tries) == MAX_TRIES_IN_FLIGHT - 1:
            self.wake()  # there is room again

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DUE_POLL_SECONDS):
                await self._wake.wait()
        self._wake.clear()

    async def _drain(self) -> None:
        """Let tries in flight finish; one cut short is due again when its lease ends."""
        if self._tries:
            await asyncio.wait(set(self._tries), timeout=self._grace_seconds)
        for task in set(self._tries):
            task.cancel()
        await asyncio.gather(*self._tries, return_exceptions=True)


def webhooks_consumer(settings: Settings) -> Consumer:
    async def record_deliveries(event: Event, uow: UnitOfWork) -> None:
        await fan_out(
            uow,
            event_id=event.id,
            event_type=event.type,
            merchant_id=event.merchant_id,
            livemode=event.livemode,
            created=event.created,
        )

    return Consumer(
        name="webhooks",
        queue="webhooks",
        handlers={event.value: record_deliveries for event in MERCHANT_EVENTS},
        backoff_base_seconds=BACKOFF_BASE_SECONDS,
        backoff_cap_seconds=BACKOFF_CAP_SECONDS,
        companion=DeliveryDispatcher(
            webhook_sender(settings), grace_seconds=settings.worker_shutdown_grace_seconds
        ),
    )
