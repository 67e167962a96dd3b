"""/v1/webhook_endpoints"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.api.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_cursor, page_response
from app.api.problems import json_response
from app.api.resources import UowDep, resources_of
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.merchants.auth import CallerDep
from app.webhooks import service as webhook_endpoints
from app.webhooks.repository import WebhookRepository
from app.webhooks.schemas import (
    CreateWebhookEndpoint,
    WebhookDeliveryList,
    WebhookEndpointList,
    WebhookEndpointOut,
    webhook_delivery_view,
    webhook_endpoint_view,
)
from app.webhooks.service import EndpointPolicy

router = APIRouter(prefix="/v1/webhook_endpoints", tags=["webhooks"])
EndpointId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, Query(max_length=64)]


@router.post("", status_code=201, responses={**ok(201, WebhookEndpointOut), **WRITE_ERRORS})
async def create_webhook_endpoint(
    request: Request, uow: UowDep, caller: CallerDep, command: CreateWebhookEndpoint
) -> Response:
    """The signing secret is in this answer only: store it now."""
    resources = resources_of(request)
    policy = EndpointPolicy.of(resources.settings, resources.cipher)
    endpoint, secret = await webhook_endpoints.create_endpoint(uow, caller, command, policy)
    await uow.commit()
    return json_response(webhook_endpoint_view(endpoint, secret=secret), 201)


@router.get("", responses={**ok(200, WebhookEndpointList), **READ_ERRORS})
async def list_webhook_endpoints(
    uow: UowDep,
    caller: CallerDep,
    limit: Limit = DEFAULT_PAGE_SIZE,
    starting_after: Cursor = None,
) -> Response:
    check_cursor("we", starting_after)
    page = await uow.repository(WebhookRepository).endpoints(
        caller.merchant_id, starting_after=starting_after, limit=limit + 1
    )
    return page_response("/v1/webhook_endpoints", page, limit, webhook_endpoint_view)


@router.get("/{endpoint_id}", responses={**ok(200, WebhookEndpointOut), **READ_ERRORS})
async def get_webhook_endpoint(uow: UowDep, caller: CallerDep, endpoint_id: EndpointId) -> Response:
    endpoint = await webhook_endpoints.get_endpoint(uow, caller, endpoint_id)
    return json_response(webhook_endpoint_view(endpoint))


@router.delete("/{endpoint_id}", responses={**ok(200, WebhookEndpointOut), **READ_ERRORS})
async def delete_webhook_endpoint(
    uow: UowDep, caller: CallerDep, endpoint_id: EndpointId
) -> Response:
    endpoint = await webhook_endpoints.delete_endpoint(uow, caller, endpoint_id)
    await uow.commit()
    return json_response(webhook_endpoint_view(endpoint))


@router.post(
    "/{endpoint_id}/rotate_secret", responses={**ok(200, WebhookEndpointOut), **WRITE_ERRORS}
)
async def rotate_webhook_secret(
    request: Request, uow: UowDep, caller: CallerDep, endpoint_id: EndpointId
) -> Response:
    """A new secret, shown once; the old one keeps signing too for the overlap (24 h)."""
    resources = resources_of(request)
    policy = EndpointPolicy.of(resources.settings, resources.cipher)
    endpoint, secret = await webhook_endpoints.rotate_secret(uow, caller, endpoint_id, policy)
    await uow.commit()
    return json_response(webhook_endpoint_view(endpoint, secret=secret))


@router.get("/{endpoint_id}/deliveries", responses={**ok(200, WebhookDeliveryList), **READ_ERRORS})
async def list_webhook_deliveries(
    uow: UowDep,
    caller: CallerDep,
    endpoint_id: EndpointId,
    limit: Limit = DEFAULT_PAGE_SIZE,
    starting_after: Cursor = None,
) -> Response:
    """Newest first: status, attempts, last status code and error, next attempt."""
    check_cursor("whd", starting_after)
    endpoint = await webhook_endpoints.get_endpoint(uow, caller, endpoint_id)
    page = await uow.repository(WebhookRepository).deliveries(
        endpoint.id, starting_after=starting_after, limit=limit + 1
    )
    url = f"/v1/webhook_endpoints/{endpoint.id}/deliveries"
    return page_response(url, page, limit, webhook_delivery_view)
