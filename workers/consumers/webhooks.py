"""`pixwave worker webhooks`: signs and POSTs merchant-visible events to the merchants'
endpoints, retrying each endpoint on its own schedule for days."""

from __future__ import annotations

from datetime import timedelta

from loguru import logger

from app.db.uow import UnitOfWork
from app.domain.events import MERCHANT_EVENTS, EventType
from app.redis_fallback import open_redis
from app.security import DocumentCipher
from app.services.endpoint_places import EndpointPlaces
from app.services.webhook_delivery import WebhookSender, deliver_event, webhook_client
from app.settings import Settings
from workers.runtime.consumer import Consumer
from workers.runtime.envelope import Event

# Tries put off for an in-flight place come back after 2 s, 4 s … at most 5 min; failed
# tries come back when their delivery's own schedule says (app/domain/webhooks.py).
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def webhook_sender(settings: Settings) -> WebhookSender:
    if settings.redis_url is None:
        raise ValueError("PIXWAVE_REDIS_URL is not set")
    return WebhookSender(
        client=webhook_client(),
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


def webhooks_consumer(settings: Settings) -> Consumer:
    sender = webhook_sender(settings)

    async def deliver(event: Event, uow: UnitOfWork) -> None:
        await deliver_event(uow, sender, event.model_dump(mode="json"))

    async def redeliver(event: Event, uow: UnitOfWork) -> None:
        command = event.object
        envelope = await uow.events.get(event.merchant_id, command["event"])
        if envelope is None:  # past the events retention
            logger.warning("webhook.redeliver_unknown_event", event_id=command["event"])
            return
        await deliver_event(uow, sender, envelope, endpoint_ids=command["webhook_endpoints"])

    handlers = {event.value: deliver for event in MERCHANT_EVENTS}
    handlers[EventType.WEBHOOK_REDELIVERY_REQUESTED.value] = redeliver
    return Consumer(
        name="webhooks",
        queue="webhooks",
        handlers=handlers,
        backoff_base_seconds=BACKOFF_BASE_SECONDS,
        backoff_cap_seconds=BACKOFF_CAP_SECONDS,
    )
