"""`pixwave worker charge`: charges new intents through the gateways, then captures and
cancels what they asked for; refunds add their action (app/refunds/consumer.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from app.db.uow import UnitOfWork
from app.domain.errors import InvalidRequest
from app.domain.events import EventType
from app.gateways.health import GatewayHealth
from app.gateways.registry import open_gateways
from app.merchants.service import check_gateway_priority
from app.payments.actions import cancel_live_charges, capture_intent
from app.payments.charging import ChargeContext, charge_intent
from app.redis_fallback import open_redis
from app.security import DocumentCipher
from app.settings import Settings
from workers.runtime.consumer import Consumer, Handler
from workers.runtime.envelope import Event

# Every event this consumer takes names its aggregate; the action takes it from there.
Action = Callable[[UnitOfWork, ChargeContext, str], Awaitable[None]]
CALLBACK_PATH = "/v1/callbacks/mercadopago"
# A failed gateway try comes back after 1 s, 2 s, 4 s … capped at 10 s: a payer may be
# waiting at a checkout, and the circuit breaker, not the backoff, protects the gateway.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 10.0


def charge_context(settings: Settings) -> ChargeContext:
    if settings.redis_url is None:
        raise ValueError("PIXWAVE_REDIS_URL is not set")
    base_url = settings.public_base_url
    return ChargeContext(
        gateways=open_gateways(settings),
        health=GatewayHealth(
            open_redis(settings.redis_url),
            namespace=settings.name_prefix,
            open_seconds=settings.gateway_circuit_open_seconds,
        ),
        priority=_known_gateways(settings.gateway_priority_list),
        cipher=DocumentCipher(settings.document_key_bytes()),
        notification_url=base_url.rstrip("/") + CALLBACK_PATH if base_url else None,
        pix_expires_in_seconds=settings.pix_default_expires_in_seconds,
        health_wait_seconds=settings.gateway_circuit_open_seconds,
    )


def _known_gateways(names: list[str]) -> list[str]:
    try:
        return check_gateway_priority(names)
    except InvalidRequest as exc:
        raise ValueError(f"PIXWAVE_GATEWAY_PRIORITY: {exc.message}") from exc


PAYMENT_ACTIONS: Mapping[EventType, Action] = {
    EventType.PAYMENT_INTENT_CREATED: charge_intent,
    EventType.PAYMENT_INTENT_CAPTURE_REQUESTED: capture_intent,
    EventType.PAYMENT_INTENT_CANCELED: cancel_live_charges,
}


def charge_consumer(settings: Settings, actions: Mapping[EventType, Action]) -> Consumer:
    """The charge queue's consumer, running ``actions`` (the intents' own, the refunds'
    from app/refunds/consumer.py: workers/consumers.py puts them together)."""
    context = charge_context(settings)

    def handler(action: Action) -> Handler:
        async def handle(event: Event, uow: UnitOfWork) -> None:
            await action(uow, context, event.aggregate.id)

        return handle

    return Consumer(
        name="charge",
        queue="charge",
        handlers={event.value: handler(action) for event, action in actions.items()},
        backoff_base_seconds=BACKOFF_BASE_SECONDS,
        backoff_cap_seconds=BACKOFF_CAP_SECONDS,
    )
