"""/v1/reviews: intents the risk rules sent to review, and closing them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from app.api import idempotency
from app.api.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_cursor, page_response
from app.api.problems import json_response
from app.api.resources import UowDep
from app.api.schemas import READ_ERRORS, WRITE_ERRORS, ok
from app.db.uow import UnitOfWork
from app.domain.caller import Caller
from app.merchants.auth import CallerDep
from app.reviews import service
from app.risk.repository import ReviewRepository
from app.risk.schemas import ReviewList, ReviewOut, review_view

router = APIRouter(prefix="/v1/reviews", tags=["risk"])
ReviewId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("", responses={**ok(200, ReviewList), **READ_ERRORS})
async def list_reviews(
    uow: UowDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    open: Annotated[bool, Query(description="Only reviews still open")] = False,
) -> Response:
    check_cursor("prv", starting_after)
    page = await uow.repository(ReviewRepository).list(
        caller.merchant_id, open_only=open, starting_after=starting_after, limit=limit + 1
    )
    return page_response("/v1/reviews", page, limit, review_view)


@router.get("/{review_id}", responses={**ok(200, ReviewOut), **READ_ERRORS})
async def get_review(uow: UowDep, caller: CallerDep, review_id: ReviewId) -> Response:
    return json_response(review_view(await service.get_review(uow, caller, review_id)))


async def _close(
    request: Request, uow: UnitOfWork, caller: Caller, review_id: str, close: service.Close
) -> Response:
    async def action(uow: UnitOfWork) -> tuple[int, Mapping[str, object]]:
        return 200, review_view(await close(uow, caller, review_id))

    return await idempotency.respond(request, uow, caller, "{}", action)


@router.post("/{review_id}/approve", responses={**ok(200, ReviewOut), **WRITE_ERRORS})
async def approve_review(
    request: Request, uow: UowDep, caller: CallerDep, review_id: ReviewId
) -> Response:
    """Close the review: the payment stands."""
    return await _close(request, uow, caller, review_id, service.approve_review)


@router.post("/{review_id}/refund", responses={**ok(200, ReviewOut), **WRITE_ERRORS})
async def refund_review(
    request: Request, uow: UowDep, caller: CallerDep, review_id: ReviewId
) -> Response:
    """Close the review and give the money back (a refund, or a cancel if unpaid)."""
    return await _close(request, uow, caller, review_id, service.refund_review)
