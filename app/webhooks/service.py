"""Webhook endpoints: create, rotate, delete, and which URLs may receive events."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db.uow import UnitOfWork
from app.db.webhook_models import WebhookEndpoint
from app.domain.caller import Caller
from app.domain.card_numbers import refuse_card_number
from app.domain.errors import ConflictError, InvalidRequest, NotFound
from app.domain.events import MERCHANT_EVENTS
from app.domain.ids import new_id
from app.domain.webhooks import ALL_EVENTS, EndpointStatus, address_refusal, check_url, new_secret
from app.security import DocumentCipher
from app.settings import Settings
from app.webhooks.repository import WebhookRepository
from app.webhooks.schemas import CreateWebhookEndpoint

# Resolving a name waits for DNS; a webhook URL that takes longer is refused.
RESOLVE_TIMEOUT_SECONDS = 5.0
_KNOWN_EVENTS = frozenset({ALL_EVENTS, *(event.value for event in MERCHANT_EVENTS)})


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    cipher: DocumentCipher
    allow_private_urls_in_test: bool
    secret_overlap: timedelta
    max_endpoints_per_merchant: int

    @classmethod
    def of(cls, settings: Settings, cipher: DocumentCipher) -> EndpointPolicy:
        return cls(
            cipher=cipher,
            allow_private_urls_in_test=settings.webhook_allow_private_urls,
            secret_overlap=timedelta(hours=settings.webhook_secret_overlap_hours),
            max_endpoints_per_merchant=settings.webhook_max_endpoints_per_merchant,
        )


class UnsafeWebhookUrl(InvalidRequest):
    code = "url_not_allowed"


class TooManyEndpoints(ConflictError):
    """Every endpoint is one more POST per event: a merchant has a bounded number."""

    code = "webhook_endpoint_limit_reached"


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A webhook URL and the one address of its host that was checked: the POST goes
    there, so a DNS answer that changes after the check (rebinding) is never used."""

    url: str
    address: str


async def check_webhook_url(url: str, *, livemode: bool, allow_private_in_test: bool) -> CheckedUrl:
    """Checked at creation and again before every delivery (DNS may have changed).
    Every address the host resolves to must be globally routable; a test-mode endpoint
    may also be on loopback when `allow_private_in_test` (development)."""
    host = check_url(url, livemode=livemode)
    allow_loopback = allow_private_in_test and not livemode
    addresses = await _resolve(host)
    for address in addresses:
        refusal = address_refusal(address, allow_loopback=allow_loopback)
        if refusal is not None:
            raise UnsafeWebhookUrl(
                f"url's host {host} resolves to {address}, {refusal}.", param="url"
            )
    return CheckedUrl(url=url, address=addresses[0])


async def _resolve(host: str) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"url's host {host} does not resolve.", param="url") from exc
    # In the resolver's order (it puts the preferred address first), once each.
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def create_endpoint(
    uow: UnitOfWork, caller: Caller, command: CreateWebhookEndpoint, policy: EndpointPolicy
) -> tuple[WebhookEndpoint, str]:
    refuse_card_number(command.description, param="description")
    unknown = sorted(set(command.enabled_events) - _KNOWN_EVENTS)
    if unknown:
        raise InvalidRequest(
            f"Unknown event types {unknown}; use event types from GET /v1/events or '*'.",
            param="enabled_events",
        )
    await check_webhook_url(
        command.url,
        livemode=caller.livemode,
        allow_private_in_test=policy.allow_private_urls_in_test,
    )
    existing = await uow.repository(WebhookRepository).count_endpoints_locked(caller.merchant_id)
    if existing >= policy.max_endpoints_per_merchant:
        raise TooManyEndpoints(
            f"A merchant has at most {policy.max_endpoints_per_merchant} webhook endpoints; "
            "delete one first."
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        merchant_id=caller.merchant_id,
        livemode=caller.livemode,
        url=command.url,
        description=command.description,
        enabled_events=sorted(set(command.enabled_events)),
        status=EndpointStatus.ENABLED,
        secret_sealed=policy.cipher.encrypt(secret, merchant_id=caller.merchant_id),
        created_at=datetime.now(UTC),
    )
    uow.repository(WebhookRepository).add_endpoint(endpoint)
    await uow.flush()
    return endpoint, secret


async def get_endpoint(
    uow: UnitOfWork, caller: Caller, endpoint_id: str, *, for_update: bool = False
) -> WebhookEndpoint:
    endpoint = await uow.repository(WebhookRepository).endpoint(
        caller.merchant_id, endpoint_id, for_update=for_update
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.", param="id")
    return endpoint


async def rotate_secret(
    uow: UnitOfWork, caller: Caller, endpoint_id: str, policy: EndpointPolicy
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one also signs for the overlap."""
    endpoint = await get_endpoint(uow, caller, endpoint_id, for_update=True)
    secret = new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_expires_at = datetime.now(UTC) + policy.secret_overlap
    endpoint.secret_sealed = policy.cipher.encrypt(secret, merchant_id=caller.merchant_id)
    await uow.flush()
    return endpoint, secret


async def delete_endpoint(uow: UnitOfWork, caller: Caller, endpoint_id: str) -> WebhookEndpoint:
    """Deliveries stop at once; the row stays for the delivery log."""
    endpoint = await get_endpoint(uow, caller, endpoint_id, for_update=True)
    endpoint.deleted_at = datetime.now(UTC)
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = "deleted"
    await uow.flush()
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, cipher: DocumentCipher, now: datetime) -> list[str]:
    sealed = [endpoint.secret_sealed]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed is not None and expires is not None and expires > now:
        sealed.append(endpoint.previous_secret_sealed)
    return [cipher.decrypt(blob, merchant_id=endpoint.merchant_id) for blob in sealed]
