"""/v1/gateway_priority: the order in which the merchant's intents try gateways."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.problems import json_response
from app.api.resources import UowDep, resources_of
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.merchants.auth import CallerDep
from app.merchants.repository import MerchantRepository
from app.merchants.schemas import GatewayPriorityOut, SetGatewayPriority
from app.merchants.service import set_gateway_priority

router = APIRouter(prefix="/v1/gateway_priority", tags=["gateways"])


def _view(priority: list[str] | None, request: Request) -> Response:
    body: dict[str, Any] = {
        "object": "gateway_priority",
        "priority": priority,
        "default": resources_of(request).settings.gateway_priority_list,
    }
    return json_response(body)


@router.get("", responses={**ok(200, GatewayPriorityOut), **READ_ERRORS})
async def get_gateway_priority(request: Request, uow: UowDep, caller: CallerDep) -> Response:
    merchant = await uow.repository(MerchantRepository).get(caller.merchant_id)
    return _view(merchant.gateway_priority if merchant else None, request)


@router.post("", responses={**ok(200, GatewayPriorityOut), **WRITE_ERRORS})
async def update_gateway_priority(
    request: Request, uow: UowDep, caller: CallerDep, command: SetGatewayPriority
) -> Response:
    """New tries of this merchant's intents follow this order; null restores the default."""
    merchant = await set_gateway_priority(uow, caller.merchant_id, command.priority)
    await uow.commit()
    return _view(merchant.gateway_priority, request)
