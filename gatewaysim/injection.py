"""Faults applied to every money-moving or query call of a simulated gateway: outage,
latency, errors without work, and answers held back after the work (client timeouts)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from fastapi import Request, Response
from loguru import logger

from gatewaysim.efi import wire as efi_wire
from gatewaysim.errors import SimulatorError
from gatewaysim.gateways import Gateway, gateway_of
from gatewaysim.mercadopago import wire as mercadopago_wire
from gatewaysim.state import Simulator

# Getting a token moves no money and queries nothing: faults leave it alone.
EXEMPT_PATHS = frozenset({"/efi/oauth/token"})
MILLISECONDS_PER_SECOND = 1000
_SERVER_ERRORS: dict[Gateway, Callable[[HTTPStatus], SimulatorError]] = {
    Gateway.MERCADOPAGO: mercadopago_wire.server_error,
    Gateway.EFI: efi_wire.server_error,
}

# Only Efí's answer to a throttled call is in its contract (payouts-and-reconciliation.md).
_THROTTLED: dict[Gateway, Callable[[], SimulatorError]] = {Gateway.EFI: efi_wire.throttled}

CallNext = Callable[[Request], Awaitable[Response]]


def fault_injection(simulator: Simulator) -> Callable[[Request, CallNext], Awaitable[Response]]:
    """HTTP middleware applying each gateway's current FaultSettings."""

    async def inject(request: Request, call_next: CallNext) -> Response:
        gateway = gateway_of(request.url.path)
        if gateway is None or request.url.path in EXEMPT_PATHS:
            return await call_next(request)
        faults = simulator.faults
        if faults.of(gateway).outage:
            return _SERVER_ERRORS[gateway](HTTPStatus.SERVICE_UNAVAILABLE).response()
        await asyncio.sleep(faults.of(gateway).latency_ms / MILLISECONDS_PER_SECOND)
        if faults.errs(gateway):
            return _server_error(gateway, request.url.path).response()
        if gateway in _THROTTLED and faults.chance(faults.of(gateway).throttle_rate):
            return _THROTTLED[gateway]().response()
        response = await call_next(request)
        if faults.hangs(gateway):
            hang = simulator.config.timeout_hang_seconds
            logger.info("sim.timeout_fault", gateway=gateway, path=request.url.path, seconds=hang)
            await asyncio.sleep(hang)
        return response

    return inject


def _server_error(gateway: Gateway, path: str) -> SimulatorError:
    if path.startswith(efi_wire.SEND_PATH_PREFIX):
        return efi_wire.send_failed()
    return _SERVER_ERRORS[gateway](HTTPStatus.INTERNAL_SERVER_ERROR)
