"""Delivering events to the merchant's endpoints, each delivery on its own.

A merchant-visible event only fans out into one pending delivery per endpoint (the
webhook worker acknowledges its message at once). A dispatcher then takes due
deliveries, one try each: sign, POST, record, schedule the next try, and after the
retry horizon give up and disable the endpoint. So one endpoint's retries never hold
back another endpoint's deliveries, nor the queue's other messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from loguru import logger
from opentelemetry.trace import SpanKind

from app.db.uow import UnitOfWork, UnitOfWorkFactory
from app.db.webhook_models import WebhookDelivery, WebhookEndpoint
from app.domain.alerts import alert
from app.domain.caller import Caller
from app.domain.errors import InvalidRequest, NotFound
from app.domain.events import EventType
from app.domain.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    DeliveryStatus,
    EndpointStatus,
    next_delivery_status,
    retry_delay_seconds,
    signature_header,
)
from app.encoding import render_json
from app.security import DocumentCipher
from app.tracing import (
    OUTCOME,
    TRACEPARENT_HEADER,
    annotate,
    continue_trace,
    event_attributes,
    failed,
)
from app.webhooks.pinned_http import PinnedClients
from app.webhooks.places import EndpointPlaces
from app.webhooks.repository import (
    ClaimedDelivery,
    EventRepository,
    PendingDelivery,
    StoredEvent,
    WebhookRepository,
)
from app.webhooks.service import (
    check_webhook_url,
    get_endpoint,
    signing_secrets,
)

USER_AGENT = "PixWave-Webhooks/1.0"
MAX_ERROR_CHARS = 500
ENDPOINT_ID = "pixwave.webhook.endpoint_id"
# A delivery whose endpoint has every in-flight place taken waits this long for one
# (a busy endpoint frees places within milliseconds), then is due again a little later.
PLACE_WAIT_SECONDS = 2.0
PLACE_POLL_SECONDS = 0.05
PLACE_RETRY_SECONDS = 1.0
# A claimed delivery is nobody else's for its try's longest run plus this margin; a
# dispatcher that dies mid-try leaves it due again after that.
LEASE_MARGIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class WebhookSender:
    clients: PinnedClients
    cipher: DocumentCipher
    timeout_seconds: float
    retry_base_seconds: float
    retry_horizon: timedelta
    places: EndpointPlaces
    allow_private_urls_in_test: bool

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout_seconds + PLACE_WAIT_SECONDS + LEASE_MARGIN_SECONDS)


@dataclass(frozen=True, slots=True)
class Outgoing:
    event_id: str
    body: bytes
    traceparent: str


@dataclass(frozen=True, slots=True)
class PostResult:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


async def fan_out(
    uow: UnitOfWork,
    *,
    event_id: str,
    event_type: str,
    merchant_id: str,
    livemode: bool,
    created: int,
) -> None:
    """A pending delivery of this event for every endpoint that takes it and existed
    when it was created (the dispatcher sends them)."""
    takers = await uow.repository(WebhookRepository).takers(
        merchant_id=merchant_id,
        livemode=livemode,
        event_id=event_id,
        event_type=event_type,
        event_created_at=datetime.fromtimestamp(created, UTC),
    )
    await uow.repository(WebhookRepository).add_deliveries(
        event_id=event_id, event_type=event_type, endpoint_ids=takers
    )


async def claim_due(
    new_uow: UnitOfWorkFactory, sender: WebhookSender, limit: int
) -> list[ClaimedDelivery]:
    """Deliveries due now, each taken for one try (see ``attempt_delivery``)."""
    now = datetime.now(UTC)
    async with new_uow() as uow:
        await uow.single_statement()
        claimed = await uow.repository(WebhookRepository).claim_due(
            now=now, lease_until=now + sender.lease, limit=limit
        )
        await uow.commit()
    return claimed


async def attempt_delivery(
    new_uow: UnitOfWorkFactory, sender: WebhookSender, claimed: ClaimedDelivery
) -> None:
    """One try of one claimed delivery: the POST runs outside any transaction."""
    stored, endpoint = claimed.stored, claimed.endpoint
    if stored is None or _given_up(endpoint):
        await _settle(new_uow, claimed.id, partial(_fail, reason=_why_not(endpoint, stored)))
        return
    now = datetime.now(UTC)
    # A client span under the event's own (its outbox row's); the POST carries it.
    attributes = {
        **event_attributes(
            claimed.event_id, stored.envelope["type"], stored.envelope["aggregate"]["id"]
        ),
        ENDPOINT_ID: endpoint.id,
        "http.request.method": "POST",
    }
    with continue_trace(
        stored.traceparent, "webhook POST", kind=SpanKind.CLIENT, attributes=attributes
    ) as traceparent:
        # The exact bytes signed and sent: receivers verify over these, never a re-encoding.
        outgoing = Outgoing(claimed.event_id, render_json(stored.envelope), traceparent)
        result = await _try(sender, endpoint, outgoing, now)
        _annotate(result)
        if result is None:
            await _settle(new_uow, claimed.id, partial(_retry_soon, now=now))
        elif result.delivered:
            await _mark_delivered(new_uow, claimed, result, now)
        else:
            await _settle(
                new_uow, claimed.id, partial(_record, sender=sender, result=result, now=now)
            )


def _annotate(result: PostResult | None) -> None:
    if result is None:
        annotate({OUTCOME: "no_place"})
        return
    annotate({OUTCOME: "delivered" if result.delivered else "failed"})
    if result.status_code is not None:
        annotate({"http.response.status_code": result.status_code})
    if not result.delivered:  # its error may quote the endpoint's URL: not copied here
        failed(f"HTTP {result.status_code}" if result.status_code else "no answer")


async def _mark_delivered(
    new_uow: UnitOfWorkFactory, claimed: ClaimedDelivery, result: PostResult, now: datetime
) -> None:
    """The common case in one statement: no read of the delivery first."""
    async with new_uow() as uow:
        await uow.single_statement()
        await uow.repository(WebhookRepository).mark_delivered(
            claimed.id, status_code=result.status_code, now=now
        )
        await uow.commit()
    logger.info("webhook.delivered", delivery_id=claimed.id, endpoint_id=claimed.endpoint.id)


async def _settle(
    new_uow: UnitOfWorkFactory,
    delivery_id: str,
    change: Callable[[UnitOfWork, PendingDelivery], Awaitable[None]],
) -> None:
    """Apply ``change`` to the delivery, locked, unless it was settled meanwhile (its
    endpoint was disabled)."""
    async with new_uow() as uow:
        item = await uow.repository(WebhookRepository).pending_delivery(delivery_id)
        if item is None:
            return
        await change(uow, item)
        await uow.commit()


async def _retry_soon(uow: UnitOfWork, item: PendingDelivery, *, now: datetime) -> None:
    """No place came free at the endpoint: due again a little later."""
    item.delivery.next_attempt_at = now + timedelta(seconds=PLACE_RETRY_SECONDS)


def _given_up(endpoint: WebhookEndpoint) -> bool:
    return endpoint.status != EndpointStatus.ENABLED.value or endpoint.deleted_at is not None


def _why_not(endpoint: WebhookEndpoint, stored: StoredEvent | None) -> str:
    if stored is None:
        return "the event is past the events retention"
    if endpoint.deleted_at is not None:
        return "endpoint deleted"
    return f"endpoint disabled ({endpoint.disabled_reason})"


async def _fail(uow: UnitOfWork, item: PendingDelivery, *, reason: str) -> None:
    delivery = item.delivery
    delivery.status = next_delivery_status(delivery.status, DeliveryStatus.FAILED)
    delivery.next_attempt_at = None
    delivery.last_error = reason


async def _try(
    sender: WebhookSender, endpoint: WebhookEndpoint, outgoing: Outgoing, now: datetime
) -> PostResult | None:
    """POST while holding one of the endpoint's places; None when no place came free."""
    token = await _take_place(sender.places, endpoint.id)
    if token is None:
        return None
    try:
        return await _post(sender, endpoint, outgoing, now)
    finally:
        await sender.places.give_back(endpoint.id, token)


async def _take_place(places: EndpointPlaces, endpoint_id: str) -> str | None:
    deadline = time.monotonic() + PLACE_WAIT_SECONDS
    while (token := await places.take(endpoint_id)) is None:
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(PLACE_POLL_SECONDS)
    return token


async def _post(
    sender: WebhookSender, endpoint: WebhookEndpoint, outgoing: Outgoing, now: datetime
) -> PostResult:
    timestamp = int(now.timestamp())
    secrets = signing_secrets(endpoint, sender.cipher, now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(secrets, timestamp, outgoing.body),
        EVENT_ID_HEADER: outgoing.event_id,
        TRACEPARENT_HEADER: outgoing.traceparent,
    }
    try:
        async with asyncio.timeout(sender.timeout_seconds):
            checked = await check_webhook_url(
                endpoint.url,
                livemode=endpoint.livemode,
                allow_private_in_test=sender.allow_private_urls_in_test,
            )
            response = await sender.clients.post(checked, outgoing.body, headers)
    except InvalidRequest as exc:
        return PostResult(None, exc.message)
    except TimeoutError:
        return PostResult(None, f"no answer within {sender.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    if response.is_success:
        return PostResult(response.status_code, None)
    return PostResult(response.status_code, f"HTTP {response.status_code}")


async def _record(
    uow: UnitOfWork,
    item: PendingDelivery,
    *,
    sender: WebhookSender,
    result: PostResult,
    now: datetime,
) -> None:
    """A failed try: the next one is scheduled, or after the retry horizon the delivery
    fails and its endpoint is disabled."""
    delivery, endpoint = item.delivery, item.endpoint
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    logger.warning(
        "webhook.failed",
        delivery_id=delivery.id,
        endpoint_id=endpoint.id,
        attempts=delivery.attempts,
        error=result.error,
    )
    if now - delivery.first_attempt_at < sender.retry_horizon:
        delay = retry_delay_seconds(delivery.attempts, base_seconds=sender.retry_base_seconds)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        return
    delivery.status = next_delivery_status(delivery.status, DeliveryStatus.FAILED)
    delivery.next_attempt_at = None
    await _disable(uow, sender, delivery, endpoint)


async def _disable(
    uow: UnitOfWork, sender: WebhookSender, delivery: WebhookDelivery, endpoint: WebhookEndpoint
) -> None:
    reason = (
        f"deliveries failed for {sender.retry_horizon}; "
        f"last: {delivery.last_error} (event {delivery.event_id})"
    )
    if not await uow.repository(WebhookRepository).disable_endpoint(endpoint.id, reason):
        return
    logger.error("webhook.endpoint_disabled", endpoint_id=endpoint.id, reason=reason)
    facts = {
        "webhook_endpoint": endpoint.id,
        "merchant": endpoint.merchant_id,
        "url": endpoint.url,
        "reason": reason,
        "event": delivery.event_id,
    }
    await uow.outbox.add_alert(
        alert(EventType.ALERT_WEBHOOK_ENDPOINT_DISABLED, endpoint.id, facts),
        merchant_id=endpoint.merchant_id,
        livemode=endpoint.livemode,
    )


async def request_redelivery(
    uow: UnitOfWork, caller: Caller, event_id: str, endpoint_id: str | None
) -> list[str]:
    """Start a fresh round of deliveries of a past event; the dispatcher sends it."""
    stored = await uow.repository(EventRepository).stored(event_id)
    if stored is None or stored.envelope["merchant_id"] != caller.merchant_id:
        raise NotFound(f"No event {event_id}.", param="id")
    event_type = stored.envelope["type"]
    if endpoint_id is not None:
        endpoint = await get_endpoint(uow, caller, endpoint_id)
        if endpoint.status != EndpointStatus.ENABLED.value:
            raise InvalidRequest(f"Webhook endpoint {endpoint_id} is disabled.", param="endpoint")
        endpoint_ids = [endpoint.id]
    else:
        endpoint_ids = await uow.repository(WebhookRepository).takers(
            merchant_id=caller.merchant_id,
            livemode=caller.livemode,
            event_id=event_id,
            event_type=event_type,
            event_created_at=stored.created_at,
        )
    await uow.repository(WebhookRepository).restart_deliveries(
        event_id=event_id, event_type=event_type, endpoint_ids=endpoint_ids
    )
    return endpoint_ids
