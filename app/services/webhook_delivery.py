"""Delivering an event to the merchant's endpoints: sign, POST, record, schedule the
next try, and after the retry horizon give up and disable the endpoint."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from loguru import logger

from app.db.models import WebhookDelivery, WebhookEndpoint
from app.db.uow import UnitOfWork
from app.db.webhook_repositories import PendingDelivery
from app.domain.caller import Caller
from app.domain.errors import InvalidRequest, NotFound, RetryLater
from app.domain.events import Aggregate, EventType
from app.domain.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    DeliveryStatus,
    EndpointStatus,
    retry_delay_seconds,
    signature_header,
)
from app.encoding import render_json
from app.security import DocumentCipher
from app.services.endpoint_places import EndpointPlaces
from app.services.webhook_endpoints import (
    CheckedUrl,
    check_webhook_url,
    get_endpoint,
    signing_secrets,
)

USER_AGENT = "PixWave-Webhooks/1.0"
MAX_ERROR_CHARS = 500
# A delivery whose endpoint has every in-flight place taken waits this long for one
# (a busy endpoint frees places within milliseconds), then comes back later.
PLACE_WAIT_SECONDS = 2.0
PLACE_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class WebhookSender:
    client: httpx.AsyncClient
    cipher: DocumentCipher
    timeout_seconds: float
    retry_base_seconds: float
    retry_horizon: timedelta
    places: EndpointPlaces
    allow_private_urls_in_test: bool


@dataclass(frozen=True, slots=True)
class Outgoing:
    event_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class PostResult:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


async def deliver_event(
    uow: UnitOfWork,
    sender: WebhookSender,
    envelope: dict[str, Any],
    *,
    endpoint_ids: list[str] | None = None,
) -> None:
    """Try every due delivery of this event (all its endpoints, or the ones named), and
    raise RetryLater, keeping what was done, while any is still pending."""
    if endpoint_ids is None:
        takers = await uow.webhooks.takers(
            merchant_id=envelope["merchant_id"],
            livemode=envelope["livemode"],
            event_type=envelope["type"],
        )
        await uow.webhooks.add_deliveries(
            event_id=envelope["id"], event_type=envelope["type"], endpoint_ids=takers
        )
    pending = await uow.webhooks.pending_deliveries(envelope["id"], endpoint_ids=endpoint_ids)
    now = datetime.now(UTC)
    # The exact bytes signed and sent: receivers verify over these, never a re-encoding.
    outgoing = Outgoing(envelope["id"], render_json(envelope))
    due = [item for item in pending if _is_due(item, now)]
    results = await asyncio.gather(*(_try(sender, item.endpoint, outgoing, now) for item in due))
    for item, result in zip(due, results, strict=True):
        if result is not None:
            await _record(uow, sender, item, result, now)
    _come_back_for(pending, now)


def _is_due(item: PendingDelivery, now: datetime) -> bool:
    delivery, endpoint = item.delivery, item.endpoint
    if endpoint.status != EndpointStatus.ENABLED.value:
        delivery.status = DeliveryStatus.FAILED.value
        delivery.last_error = f"endpoint disabled ({endpoint.disabled_reason})"
        return False
    return delivery.next_attempt_at is None or delivery.next_attempt_at <= now


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
    }
    try:
        async with asyncio.timeout(sender.timeout_seconds):
            checked = await check_webhook_url(
                endpoint.url,
                livemode=endpoint.livemode,
                allow_private_in_test=sender.allow_private_urls_in_test,
            )
            response = await post_pinned(sender.client, checked, outgoing.body, headers)
    except InvalidRequest as exc:
        return PostResult(None, exc.message)
    except TimeoutError:
        return PostResult(None, f"no answer within {sender.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
    if response.is_success:
        return PostResult(response.status_code, None)
    return PostResult(response.status_code, f"HTTP {response.status_code}")


def webhook_client() -> httpx.AsyncClient:
    """Redirects are not followed (a 3xx is a failed try, never a hop to another host);
    no connection is kept alive (see post_pinned)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def post_pinned(
    client: httpx.AsyncClient, checked: CheckedUrl, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST to the checked address itself, never to the name again: the URL carries the
    IP, the Host header the name, and TLS sends and verifies the name (SNI, certificate).
    The client must not keep connections alive: its pool is keyed by IP, so a kept
    connection could carry another host's request under the first host's certificate."""
    url = httpx.URL(checked.url)
    return await client.post(
        url.copy_with(host=checked.address),
        content=body,
        headers={**headers, "Host": url.netloc.decode("ascii")},
        extensions={"sni_hostname": url.raw_host.decode("ascii")},
    )


async def _record(
    uow: UnitOfWork,
    sender: WebhookSender,
    item: PendingDelivery,
    result: PostResult,
    now: datetime,
) -> None:
    delivery, endpoint = item.delivery, item.endpoint
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    if result.delivered:
        delivery.status = DeliveryStatus.DELIVERED.value
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        logger.info("webhook.delivered", delivery_id=delivery.id, endpoint_id=endpoint.id)
        return
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
    delivery.status = DeliveryStatus.FAILED.value
    delivery.next_attempt_at = None
    await _disable(uow, sender, delivery, endpoint)


async def _disable(
    uow: UnitOfWork, sender: WebhookSender, delivery: WebhookDelivery, endpoint: WebhookEndpoint
) -> None:
    reason = (
        f"deliveries failed for {sender.retry_horizon}; "
        f"last: {delivery.last_error} (event {delivery.event_id})"
    )
    if not await uow.webhooks.disable_endpoint(endpoint.id, reason):
        return
    logger.error("webhook.endpoint_disabled", endpoint_id=endpoint.id, reason=reason)
    await uow.outbox.add_event(
        event_type=EventType.ALERT_WEBHOOK_ENDPOINT_DISABLED,
        merchant_id=endpoint.merchant_id,
        livemode=endpoint.livemode,
        # Alerts carry no state to order: every one is sequence 1 of its endpoint.
        aggregate=Aggregate("webhook_endpoint", endpoint.id, 1),
        data_object={
            "webhook_endpoint": endpoint.id,
            "url": endpoint.url,
            "reason": reason,
            "event": delivery.event_id,
        },
    )


def _come_back_for(pending: list[PendingDelivery], now: datetime) -> None:
    waiting = [item.delivery for item in pending if item.delivery.status == DeliveryStatus.PENDING]
    if not waiting:
        return
    scheduled = [d.next_attempt_at for d in waiting if d.next_attempt_at is not None]
    delay: int | None = None  # one waits for an in-flight place: the consumer's backoff
    if len(scheduled) == len(waiting) and min(scheduled) > now:
        delay = max(1, math.ceil((min(scheduled) - now).total_seconds()))
    raise RetryLater(
        f"{len(waiting)} webhook deliveries pending", delay_seconds=delay, keep_progress=True
    )


async def request_redelivery(
    uow: UnitOfWork, caller: Caller, event_id: str, endpoint_id: str | None
) -> list[str]:
    """Start a fresh round of deliveries of a past event; the webhook worker sends it."""
    envelope = await uow.events.get(caller.merchant_id, event_id)
    if envelope is None:
        raise NotFound(f"No event {event_id}.", param="id")
    if endpoint_id is not None:
        endpoint = await get_endpoint(uow, caller, endpoint_id)
        if endpoint.status != EndpointStatus.ENABLED.value:
            raise InvalidRequest(f"Webhook endpoint {endpoint_id} is disabled.", param="endpoint")
        endpoint_ids = [endpoint.id]
    else:
        endpoint_ids = await uow.webhooks.takers(
            merchant_id=caller.merchant_id, livemode=caller.livemode, event_type=envelope["type"]
        )
    await uow.webhooks.restart_deliveries(
        event_id=event_id, event_type=envelope["type"], endpoint_ids=endpoint_ids
    )
    await uow.outbox.add_event(
        event_type=EventType.WEBHOOK_REDELIVERY_REQUESTED,
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        aggregate=Aggregate("event", event_id, 1),
        data_object={"event": event_id, "webhook_endpoints": endpoint_ids},
    )
    return endpoint_ids
