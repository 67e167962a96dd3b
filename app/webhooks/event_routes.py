"""/v1/events: what happened, as webhooks carried it, for 30 days."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.api.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_cursor, page_response
from app.api.problems import json_response
from app.api.resources import UowDep
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.domain.errors import NotFound
from app.domain.events import MERCHANT_EVENTS, Envelope
from app.merchants.auth import CallerDep
from app.webhooks.deliveries import request_redelivery
from app.webhooks.repository import EventRepository
from app.webhooks.schemas import EventList, RedeliverEvent, RedeliveryOut

router = APIRouter(prefix="/v1/events", tags=["events"])
EventId = Annotated[str, Path(min_length=1, max_length=64)]
MerchantEventType = Annotated[
    str | None,
    Query(alias="type", pattern="^(" + "|".join(e.value for e in MERCHANT_EVENTS) + ")$"),
]


def _as_is(envelope: dict[str, Any]) -> dict[str, Any]:
    return envelope


@router.get("", responses={**ok(200, EventList), **READ_ERRORS})
async def list_events(
    uow: UowDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    event_type: MerchantEventType = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Newest first; filter by `type` and by the id of the object the event is about."""
    check_cursor("evt", starting_after)
    page = await uow.repository(EventRepository).list(
        caller.merchant_id,
        event_type=event_type,
        object_id=object_id,
        starting_after=starting_after,
        limit=limit + 1,
    )
    return page_response("/v1/events", page, limit, _as_is)


@router.get("/{event_id}", responses={**ok(200, Envelope), **READ_ERRORS})
async def get_event(uow: UowDep, caller: CallerDep, event_id: EventId) -> Response:
    envelope = await uow.repository(EventRepository).get(caller.merchant_id, event_id)
    if envelope is None:
        raise NotFound(f"No event {event_id}.", param="id")
    return json_response(envelope)


@router.post(
    "/{event_id}/redeliver", status_code=202, responses={**ok(202, RedeliveryOut), **WRITE_ERRORS}
)
async def redeliver_event(
    uow: UowDep, caller: CallerDep, event_id: EventId, command: RedeliverEvent | None = None
) -> Response:
    """Send the event again, with its own id, to every endpoint that takes it (or one)."""
    endpoint = command.endpoint if command else None
    endpoints = await request_redelivery(uow, caller, event_id, endpoint)
    await uow.commit()
    body = {"object": "event_redelivery", "event": event_id, "webhook_endpoints": endpoints}
    return json_response(body, 202)
