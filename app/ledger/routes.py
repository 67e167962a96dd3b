"""/v1/balance and /v1/balance_transactions"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from app.api.pages import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, check_cursor, page_response
from app.api.problems import json_response
from app.api.resources import UowDep
from app.api.schemas import READ_ERRORS, ok
from app.domain.ledger import TransactionType
from app.ledger import service as ledger
from app.ledger.repository import LedgerRepository
from app.ledger.schemas import (
    BalanceOut,
    BalanceTransactionList,
    BalanceTransactionOut,
    balance_transaction_view,
    balance_view,
)
from app.merchants.auth import CallerDep

router = APIRouter(tags=["balance"])


@router.get("/v1/balance", responses={**ok(200, BalanceOut), **READ_ERRORS})
async def get_balance(uow: UowDep, caller: CallerDep) -> Response:
    """What the merchant's ledger entries say it holds, per currency."""
    balance = await ledger.balance_of(uow, caller.merchant_id, caller.livemode)
    return json_response(balance_view(balance))


@router.get(
    "/v1/balance_transactions", responses={**ok(200, BalanceTransactionList), **READ_ERRORS}
)
async def list_balance_transactions(
    uow: UowDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    starting_after: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[TransactionType | None, Query(alias="type")] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Response:
    check_cursor("txn", starting_after)
    page = await uow.repository(LedgerRepository).list_transactions(
        caller.merchant_id,
        livemode=caller.livemode,
        kind=kind,
        source=source,
        starting_after=starting_after,
        limit=limit + 1,
    )
    return page_response("/v1/balance_transactions", page, limit, balance_transaction_view)


@router.get(
    "/v1/balance_transactions/{txn_id}",
    responses={**ok(200, BalanceTransactionOut), **READ_ERRORS},
)
async def get_balance_transaction(
    uow: UowDep, caller: CallerDep, txn_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> Response:
    transaction = await ledger.get_transaction(uow, caller, txn_id)
    return json_response(balance_transaction_view(transaction))
