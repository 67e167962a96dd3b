"""/v1/refunds"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from app.api import idempotency
from app.api.problems import json_response
from app.api.resources import UowDep
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.db.uow import UnitOfWork
from app.merchants.auth import CallerDep
from app.refunds import service as refunds
from app.refunds.schemas import CreateRefund, RefundOut, refund_view

router = APIRouter(prefix="/v1/refunds", tags=["refunds"])


@router.post(
    "",
    status_code=201,
    responses={**ok(201, RefundOut), **WRITE_ERRORS},
)
async def create_refund(
    request: Request, uow: UowDep, caller: CallerDep, command: CreateRefund
) -> Response:
    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        refund = await refunds.create_refund(uow, caller, command)
        return 201, refund_view(refund)

    return await idempotency.respond(request, uow, caller, command.model_dump_json(), action)


@router.get("/{refund_id}", responses={**ok(200, RefundOut), **READ_ERRORS})
async def get_refund(
    uow: UowDep,
    caller: CallerDep,
    refund_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    refund = await refunds.get_refund(uow, caller, refund_id)
    return json_response(refund_view(refund))
