"""/v1/payouts"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.api import idempotency
from app.api.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_cursor, page_response
from app.api.problems import json_response
from app.api.resources import UowDep, resources_of
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.db.uow import UnitOfWork
from app.domain.payouts import PayoutStatus
from app.merchants.auth import CallerDep
from app.payouts import service as payouts
from app.payouts.repository import PayoutRepository
from app.payouts.schemas import CreatePayout, PayoutList, PayoutOut, payout_view

router = APIRouter(prefix="/v1/payouts", tags=["payouts"])
PayoutId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("", status_code=201, responses={**ok(201, PayoutOut), **WRITE_ERRORS})
async def create_payout(
    request: Request, uow: UowDep, caller: CallerDep, command: CreatePayout
) -> Response:
    """Send money from the available balance to a Pix key; refused with
    ``balance_insufficient`` when the available balance does not cover it."""
    cipher = resources_of(request).cipher

    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        payout = await payouts.create_payout(uow, caller, command, cipher)
        return 201, payout_view(payout)

    return await idempotency.respond(request, uow, caller, command.model_dump_json(), action)


@router.get("", responses={**ok(200, PayoutList), **READ_ERRORS})
async def list_payouts(
    uow: UowDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    status: PayoutStatus | None = None,
) -> Response:
    check_cursor("po", starting_after)
    page = await uow.repository(PayoutRepository).page(
        caller.merchant_id,
        livemode=caller.livemode,
        status=status,
        starting_after=starting_after,
        limit=limit + 1,
    )
    return page_response("/v1/payouts", page, limit, payout_view)


@router.get("/{payout_id}", responses={**ok(200, PayoutOut), **READ_ERRORS})
async def get_payout(uow: UowDep, caller: CallerDep, payout_id: PayoutId) -> Response:
    payout = await payouts.get_payout(uow, caller, payout_id)
    return json_response(payout_view(payout))


@router.post("/{payout_id}/cancel", responses={**ok(200, PayoutOut), **WRITE_ERRORS})
async def cancel_payout(
    request: Request, uow: UowDep, caller: CallerDep, payout_id: PayoutId
) -> Response:
    """Only while ``pending`` (not sent yet); its amount goes back to available."""

    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        payout = await payouts.cancel_payout(uow, caller, payout_id)
        return 200, payout_view(payout)

    return await idempotency.respond(request, uow, caller, "", action)
