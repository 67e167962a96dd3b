"""Queries for webhook endpoints, their deliveries, and the events merchants can list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    DateTime,
    String,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from app.db.models import OutboxEvent
from app.db.webhook_models import WebhookDelivery, WebhookEndpoint
from app.domain.events import MERCHANT_EVENTS
from app.domain.ids import new_id
from app.domain.webhooks import ALL_EVENTS, DeliveryStatus, EndpointStatus

_MERCHANT_EVENT_TYPES = [event.value for event in MERCHANT_EVENTS]

# The dispatcher's and the fan-out's statements are built once: building a statement
# (and its cache key) cost the webhooks worker more CPU than running it.
_EVENT_CREATED_AT = func.coalesce(
    select(OutboxEvent.created_at)
    .where(
        OutboxEvent.id == bindparam("event_id"),
        OutboxEvent.event_type.in_(_MERCHANT_EVENT_TYPES),
    )
    .scalar_subquery(),
    bindparam("event_created_at", type_=DateTime(timezone=True)),
)
_TAKERS = select(WebhookEndpoint.id).where(
    WebhookEndpoint.merchant_id == bindparam("merchant_id"),
    WebhookEndpoint.livemode == bindparam("livemode", type_=Boolean),
    WebhookEndpoint.status == EndpointStatus.ENABLED.value,
    WebhookEndpoint.deleted_at.is_(None),
    WebhookEndpoint.enabled_events.has_any(
        array([ALL_EVENTS, bindparam("event_type", type_=String)])
    ),
    WebhookEndpoint.created_at <= _EVENT_CREATED_AT,
)
# Core, on the table: the ORM's bulk insert and update paths cost more than the statements.
_DELIVERY_TABLE = cast(Table, WebhookDelivery.__table__)
_ADD_DELIVERY = insert(_DELIVERY_TABLE).on_conflict_do_nothing()


def _claim_due_query() -> Executable:
    due = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value,
            or_(
                WebhookDelivery.next_attempt_at.is_(None),
                WebhookDelivery.next_attempt_at <= bindparam("now"),
            ),
        )
        .order_by(WebhookDelivery.next_attempt_at.asc().nulls_first(), WebhookDelivery.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
    )
    claimed = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=bindparam("lease_until"))
        .returning(WebhookDelivery.id, WebhookDelivery.event_id, WebhookDelivery.endpoint_id)
        .cte("claimed")
    )
    return (
        select(
            claimed.c.id,
            claimed.c.event_id,
            WebhookEndpoint,
            OutboxEvent.payload,
            OutboxEvent.traceparent,
            OutboxEvent.created_at,
        )
        .select_from(claimed)
        .join(WebhookEndpoint, WebhookEndpoint.id == claimed.c.endpoint_id)
        .outerjoin(
            OutboxEvent,
            and_(
                OutboxEvent.id == claimed.c.event_id,
                OutboxEvent.event_type.in_(_MERCHANT_EVENT_TYPES),
            ),
        )
    )


_CLAIM_DUE = _claim_due_query()
_deliveries = _DELIVERY_TABLE.c
_MARK_DELIVERED = (
    update(_DELIVERY_TABLE)
    .where(
        _deliveries.id == bindparam("delivery_id"),
        _deliveries.status == DeliveryStatus.PENDING.value,
    )
    .values(
        status=DeliveryStatus.DELIVERED.value,
        attempts=_deliveries.attempts + 1,
        first_attempt_at=func.coalesce(_deliveries.first_attempt_at, bindparam("now")),
        last_status_code=bindparam("status_code"),
        last_error=None,
        delivered_at=bindparam("now"),
        next_attempt_at=None,
    )
)


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A merchant-visible event as the outbox keeps it."""

    envelope: dict[str, Any]
    traceparent: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery taken for one try, with what the try needs: its endpoint as it was
    when claimed, and its event (None once past the events retention)."""

    id: str
    event_id: str
    endpoint: WebhookEndpoint
    stored: StoredEvent | None


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._session.add(endpoint)

    async def endpoint(
        self, merchant_id: str, endpoint_id: str, *, for_update: bool = False
    ) -> WebhookEndpoint | None:
        query = select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.deleted_at.is_(None),
        )
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def endpoints(
        self, merchant_id: str, *, starting_after: str | None, limit: int
    ) -> list[WebhookEndpoint]:
        query = select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None)
        )
        if starting_after is not None:
            query = query.where(WebhookEndpoint.id < starting_after)
        query = query.order_by(WebhookEndpoint.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())

    async def count_endpoints_locked(self, merchant_id: str) -> int:
        """The merchant's endpoints (not deleted), counted under a lock held until commit,
        so two creations at once cannot both pass a limit."""
        lock = func.pg_advisory_xact_lock(
            func.hashtext("webhook_endpoints"), func.hashtext(merchant_id)
        )
        await self._session.execute(select(lock))
        count = await self._session.scalar(
            select(func.count()).where(
                WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.deleted_at.is_(None)
            )
        )
        return int(count or 0)

    async def takers(
        self,
        *,
        merchant_id: str,
        livemode: bool,
        event_id: str,
        event_type: str,
        event_created_at: datetime,
    ) -> list[str]:
        """The enabled endpoints that take this event type and existed when it was
        created, by the outbox's clock (``event_created_at`` once the event is past the
        events retention): a new endpoint hears only of events after it."""
        ids = await self._session.scalars(
            _TAKERS,
            {
                "merchant_id": merchant_id,
                "livemode": livemode,
                "event_id": event_id,
                "event_type": event_type,
                "event_created_at": event_created_at,
            },
        )
        return list(ids)

    async def add_deliveries(
        self, *, event_id: str, event_type: str, endpoint_ids: list[str]
    ) -> None:
        """A pending delivery per endpoint; an existing one is left as it is."""
        if not endpoint_ids:
            return
        rows = [
            {
                "id": new_id("whd"),
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "status": DeliveryStatus.PENDING.value,
            }
            for endpoint_id in endpoint_ids
        ]
        await self._session.execute(_ADD_DELIVERY, rows)

    async def disable_endpoint(self, endpoint_id: str, reason: str) -> bool:
        """True for the one caller that disabled it (several workers may try at once)."""
        result = await self._session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.status == EndpointStatus.ENABLED.value,
            )
            .values(status=EndpointStatus.DISABLED, disabled_reason=reason)
        )
        return bool(getattr(result, "rowcount", 0))

    async def restart_deliveries(
        self, *, event_id: str, event_type: str, endpoint_ids: list[str]
    ) -> None:
        """Redeliver: each endpoint gets the event again, with a fresh retry schedule."""
        await self.add_deliveries(
            event_id=event_id, event_type=event_type, endpoint_ids=endpoint_ids
        )
        await self._session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.event_id == event_id,
                WebhookDelivery.endpoint_id.in_(endpoint_ids),
            )
            .values(
                status=DeliveryStatus.PENDING,
                next_attempt_at=None,
                first_attempt_at=None,
            )
        )

    async def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due deliveries for one try each: their next try moves to
        ``lease_until``, so no other dispatcher takes them meanwhile, and a dispatcher
        that dies mid-try leaves them due again then. The same statement reads their
        endpoints and events."""
        rows = await self._session.execute(
            _CLAIM_DUE, {"now": now, "lease_until": lease_until, "limit": limit}
        )
        return [
            ClaimedDelivery(
                id=row[0],
                event_id=row[1],
                endpoint=row[2],
                stored=None if row[3] is None else StoredEvent(row[3], row[4], row[5]),
            )
            for row in rows
        ]

    async def mark_delivered(
        self, delivery_id: str, *, status_code: int | None, now: datetime
    ) -> None:
        """Record a successful try in one statement; a delivery settled meanwhile (its
        endpoint was disabled) is left as it is."""
        await self._session.execute(
            _MARK_DELIVERED, {"delivery_id": delivery_id, "status_code": status_code, "now": now}
        )

    async def pending_delivery(self, delivery_id: str) -> PendingDelivery | None:
        """A pending delivery and its endpoint, the delivery locked."""
        query = (
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING.value,
            )
            .with_for_update(of=WebhookDelivery)
        )
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else PendingDelivery(row[0], row[1])

    async def deliveries(
        self, endpoint_id: str, *, starting_after: str | None, limit: int
    ) -> list[WebhookDelivery]:
        query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if starting_after is not None:
            query = query.where(WebhookDelivery.id < starting_after)
        query = query.order_by(WebhookDelivery.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())


class EventRepository:
    """Merchant-visible events are the outbox's rows, kept for the events retention."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def stored(self, event_id: str) -> StoredEvent | None:
        query = select(OutboxEvent.payload, OutboxEvent.traceparent, OutboxEvent.created_at).where(
            OutboxEvent.id == event_id, OutboxEvent.event_type.in_(_MERCHANT_EVENT_TYPES)
        )
        row = (await self._session.execute(query)).one_or_none()
        return None if row is None else StoredEvent(row[0], row[1], row[2])

    async def get(self, merchant_id: str | None, event_id: str) -> dict[str, Any] | None:
        query = select(OutboxEvent.payload).where(
            OutboxEvent.id == event_id, OutboxEvent.event_type.in_(_MERCHANT_EVENT_TYPES)
        )
        if merchant_id is not None:
            query = query.where(OutboxEvent.merchant_id == merchant_id)
        payload: dict[str, Any] | None = await self._session.scalar(query)
        return payload

    async def list(
        self,
        merchant_id: str,
        *,
        event_type: str | None,
        object_id: str | None,
        starting_after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        query = select(OutboxEvent.payload).where(
            OutboxEvent.merchant_id == merchant_id,
            OutboxEvent.event_type.in_(_MERCHANT_EVENT_TYPES),
        )
        if event_type is not None:
            query = query.where(OutboxEvent.event_type == event_type)
        if object_id is not None:
            query = query.where(OutboxEvent.aggregate_id == object_id)
        if starting_after is not None:
            query = query.where(OutboxEvent.id < starting_after)
        query = query.order_by(OutboxEvent.id.desc()).limit(limit)
        return list((await self._session.execute(query)).scalars())
