"""`/mercadopago/v1/payments`: the routes of the simulated Mercado Pago Payments API."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from gatewaysim.mercadopago.schemas import PaymentIn, PaymentUpdateIn, RefundIn
from gatewaysim.mercadopago.search import search_query
from gatewaysim.mercadopago.wire import (
    bad_request,
    payment_json,
    refund_json,
    unauthorized,
)
from gatewaysim.state import SimulatorDep


def _require_bearer(authorization: Annotated[str | None, Header()] = None) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()


def _idempotency_key(x_idempotency_key: Annotated[str | None, Header()] = None) -> str:
    if not x_idempotency_key:
        raise bad_request("missing_idempotency_key", "the X-Idempotency-Key header is required")
    return x_idempotency_key


IdempotencyKey = Annotated[str, Depends(_idempotency_key)]
router = APIRouter(prefix="/mercadopago/v1", dependencies=[Depends(_require_bearer)])


@router.post("/payments")
async def create_payment(
    body: PaymentIn, key: IdempotencyKey, sim: SimulatorDep, request: Request
) -> JSONResponse:
    fingerprint = _fingerprint(await request.body())
    payment = sim.mercadopago.create(key, body, host=request.url.netloc, fingerprint=fingerprint)
    return JSONResponse(payment_json(payment), status_code=HTTPStatus.CREATED)


def _fingerprint(raw: bytes) -> str:
    """The request's JSON, key order and spacing aside."""
    canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@router.get("/payments/search")
async def search_payments(
    sim: SimulatorDep,
    external_reference: str | None = None,
    range_: Annotated[str | None, Query(alias="range")] = None,
    begin_date: str | None = None,
    end_date: str | None = None,
    sort: str | None = None,
    criteria: str | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> JSONResponse:
    query = search_query(
        now=datetime.now(UTC),
        range_=range_,
        begin_date=begin_date,
        end_date=end_date,
        sort=sort,
        criteria=criteria,
        offset=offset,
        limit=limit,
    )
    total, page = sim.mercadopago.search(external_reference, query)
    return JSONResponse(
        {
            "paging": {"total": total, "limit": query.limit, "offset": query.offset},
            "results": [payment_json(p) for p in page],
        }
    )


@router.get("/payments/{payment_id}")
async def get_payment(payment_id: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(payment_json(sim.mercadopago.get(payment_id)))


@router.put("/payments/{payment_id}")
async def update_payment(payment_id: str, body: PaymentUpdateIn, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(payment_json(sim.mercadopago.update(payment_id, body)))


@router.post("/payments/{payment_id}/refunds")
async def refund_payment(
    payment_id: str, key: IdempotencyKey, sim: SimulatorDep, body: RefundIn | None = None
) -> JSONResponse:
    amount = None if body is None else body.amount
    refund = sim.mercadopago.refund(payment_id, key, amount)
    return JSONResponse(refund_json(refund), status_code=HTTPStatus.CREATED)


@router.get("/payments/{payment_id}/refunds")
async def list_refunds(payment_id: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse([refund_json(r) for r in sim.mercadopago.refunds_of(payment_id)])


@router.get("/payments/{payment_id}/refunds/{refund_id}")
async def get_refund(payment_id: str, refund_id: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(refund_json(sim.mercadopago.get_refund(payment_id, refund_id)))
