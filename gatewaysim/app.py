"""The simulator's FastAPI application: both gateways, `/_sim`, faults and request logs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from loguru import logger

from gatewaysim import admin
from gatewaysim.config import SimulatorConfig
from gatewaysim.efi import router as efi
from gatewaysim.efi import wire as efi_wire
from gatewaysim.errors import SimulatorError
from gatewaysim.gateways import Gateway, gateway_of
from gatewaysim.injection import MILLISECONDS_PER_SECOND, CallNext, fault_injection
from gatewaysim.mercadopago import router as mercadopago
from gatewaysim.mercadopago import wire as mercadopago_wire
from gatewaysim.state import Simulator

_INVALID_REQUEST = {
    Gateway.MERCADOPAGO: mercadopago_wire.invalid_request,
    Gateway.EFI: efi_wire.invalid_request,
}


def create_simulator_app(config: SimulatorConfig) -> FastAPI:
    simulator = Simulator(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await simulator.close()

    app = FastAPI(title="PixWave gateway simulator", lifespan=lifespan)
    app.state.simulator = simulator
    routers = (mercadopago.router, efi.oauth_router, efi.router, efi.send_router, admin.router)
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(SimulatorError, _simulator_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.middleware("http")(fault_injection(simulator))
    app.middleware("http")(_log_request)  # outermost: logs the answers faults give too
    return app


async def _simulator_error(request: Request, exc: SimulatorError) -> Response:
    return exc.response()


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """Bad input gets the 400 of the gateway it was sent to (FastAPI's 422 under /_sim)."""
    gateway = gateway_of(request.url.path)
    if gateway is None:
        return await request_validation_exception_handler(request, exc)
    return _INVALID_REQUEST[gateway](exc.errors()).response()


async def _log_request(request: Request, call_next: CallNext) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    logger.info(
        "sim.request",
        method=request.method,
        path=request.url.path,
        status=response.status_code,
        duration_ms=round((time.perf_counter() - started) * MILLISECONDS_PER_SECOND, 1),
    )
    return response
