"""/v1/payment_intents"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from app.api import idempotency
from app.api.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_cursor, page_response
from app.api.problems import json_response
from app.api.resources import UowDep, resources_of
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.db.uow import UnitOfWork
from app.domain.intents import IntentStatus
from app.merchants.auth import CallerDep
from app.payments import intents
from app.payments.intents import IntentPolicy
from app.payments.repository import AttemptRepository, IntentRepository
from app.payments.schemas import (
    AttemptList,
    CancelPaymentIntent,
    CapturePaymentIntent,
    CreatePaymentIntent,
    PaymentIntentList,
    PaymentIntentOut,
    attempt_view,
    intent_view,
)
from app.risk.service import RiskScreen

router = APIRouter(prefix="/v1/payment_intents", tags=["payment intents"])
IntentId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("", status_code=201, responses={**ok(201, PaymentIntentOut), **WRITE_ERRORS})
async def create_payment_intent(
    request: Request, uow: UowDep, caller: CallerDep, command: CreatePaymentIntent
) -> Response:
    resources = resources_of(request)
    client_ip = request.client.host if request.client else None
    risk = RiskScreen.of(resources.settings, resources.redis, client_ip)

    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        intent = await intents.create_intent(
            uow, caller, command, IntentPolicy.of(resources.settings), resources.cipher, risk
        )
        return 201, intent_view(intent)

    return await idempotency.respond(request, uow, caller, command.model_dump_json(), action)


@router.get("", responses={**ok(200, PaymentIntentList), **READ_ERRORS})
async def list_payment_intents(
    uow: UowDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    status: IntentStatus | None = None,
) -> Response:
    check_cursor("pi", starting_after)
    page = await uow.repository(IntentRepository).list(
        caller.merchant_id,
        status=None if status is None else status.value,
        starting_after=starting_after,
        limit=limit + 1,
    )
    return page_response("/v1/payment_intents", page, limit, intent_view)


@router.get("/{intent_id}", responses={**ok(200, PaymentIntentOut), **READ_ERRORS})
async def get_payment_intent(uow: UowDep, caller: CallerDep, intent_id: IntentId) -> Response:
    intent = await intents.get_intent(uow, caller, intent_id)
    return json_response(intent_view(intent))


@router.get("/{intent_id}/attempts", responses={**ok(200, AttemptList), **READ_ERRORS})
async def list_payment_attempts(uow: UowDep, caller: CallerDep, intent_id: IntentId) -> Response:
    """Every gateway try for the intent, oldest first, with why that gateway was chosen."""
    intent = await intents.get_intent(uow, caller, intent_id)
    body = {
        "object": "list",
        "url": f"/v1/payment_intents/{intent.id}/attempts",
        "data": [
            attempt_view(a) for a in await uow.repository(AttemptRepository).for_intent(intent.id)
        ],
    }
    return json_response(body)


@router.post("/{intent_id}/cancel", responses={**ok(200, PaymentIntentOut), **WRITE_ERRORS})
async def cancel_payment_intent(
    request: Request,
    uow: UowDep,
    caller: CallerDep,
    intent_id: IntentId,
    command: Annotated[CancelPaymentIntent | None, Body()] = None,
) -> Response:
    command = command or CancelPaymentIntent()

    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        intent = await intents.cancel_intent(uow, caller, intent_id, command)
        return 200, intent_view(intent)

    return await idempotency.respond(request, uow, caller, command.model_dump_json(), action)


@router.post("/{intent_id}/capture", responses={**ok(200, PaymentIntentOut), **WRITE_ERRORS})
async def capture_payment_intent(
    request: Request,
    uow: UowDep,
    caller: CallerDep,
    intent_id: IntentId,
    command: Annotated[CapturePaymentIntent | None, Body()] = None,
) -> Response:
    command = command or CapturePaymentIntent()

    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        intent = await intents.request_capture(uow, caller, intent_id, command)
        return 200, intent_view(intent)

    return await idempotency.respond(request, uow, caller, command.model_dump_json(), action)
