"""/v1/callbacks: what gateways send when a charge or a Pix we sent changes.

A callback is verified (signature or token), then only trusted to say "look
again": the charge is re-fetched from the gateway before anything moves, and a send
(a payout's) is read by its idEnvio by the payouts area (``Resources.read_sends``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from loguru import logger
from starlette.responses import Response

from app.api.problems import json_response
from app.api.ratelimit import Window
from app.api.resources import UowDep, resources_of
from app.api.schemas import problem_responses
from app.domain.errors import CallbackRejected, NotFound, RateLimited
from app.gateways.identifiers import check_callback_event
from app.gateways.port import Gateway, GatewayName, IncomingCallback
from app.merchants.auth import note_failed_authentication, refuse_a_guessing_client
from app.payments.callbacks import apply_callback

router = APIRouter(prefix="/v1/callbacks", tags=["gateway callbacks"])
CALLBACK_WINDOW_SECONDS = 60
CALLBACK_ERRORS = problem_responses(400, 401, 404, 413, 415, 429, 503)


@router.post("/mercadopago", responses=CALLBACK_ERRORS)
async def mercadopago(request: Request, uow: UowDep) -> Response:
    """Mercado Pago notification, signed with ``x-signature``."""
    return await _receive(request, uow, GatewayName.MERCADOPAGO)


@router.post("/efi", responses=CALLBACK_ERRORS)
async def efi(request: Request, uow: UowDep) -> Response:
    """Efí Pix webhook, authenticated by the ``hmac`` token in the registered URL."""
    return await _receive(request, uow, GatewayName.EFI)


# Efí appends "/pix" to the registered URL.
router.post("/efi/pix", responses=CALLBACK_ERRORS, include_in_schema=False)(efi)


async def _receive(request: Request, uow: UowDep, name: GatewayName) -> Response:
    gateway = _configured(request, name)
    await refuse_a_guessing_client(request)
    body = await request.body()
    callback = IncomingCallback(
        body=body,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
    )
    try:
        notice = gateway.verify_callback(callback, datetime.now(UTC))
    except CallbackRejected as exc:
        logger.warning("callback.rejected", gateway=name.value, reason=exc.message)
        await note_failed_authentication(request)
        raise
    await _enforce_callback_limit(request, name)
    for event in notice.events:
        check_callback_event(name, event)
    read_sends = resources_of(request).read_sends
    if notice.pix_sends and read_sends is not None:
        await read_sends(notice.pix_sends)  # each send read again, in its own transaction
    # Fetch before the transaction opens: no row lock waits on a gateway's latency.
    charges = [await gateway.get_charge(event.reference) for event in notice.events]
    results = [
        await apply_callback(uow, name, event, charge, body)
        for event, charge in zip(notice.events, charges, strict=True)
    ]
    await uow.commit()
    return json_response({"received": len(results), "results": results})


async def _enforce_callback_limit(request: Request, name: GatewayName) -> None:
    """Each callback costs a re-fetch from the gateway: at most so many a minute each."""
    resources = resources_of(request)
    window = Window.now(CALLBACK_WINDOW_SECONDS)
    count = await resources.rates.hit(f"callbacks:{name.value}", window)
    if count > resources.settings.callback_rate_limit_per_minute:
        raise RateLimited(retry_after_seconds=window.remaining_seconds)


def _configured(request: Request, name: GatewayName) -> Gateway:
    gateway = resources_of(request).gateways.get(name)
    if gateway is None:
        raise NotFound(f"The {name} gateway is not configured here.")
    return gateway
