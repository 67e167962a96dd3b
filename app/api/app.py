"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi

from app.api import health
from app.api.input_rules import check_request_input
from app.api.middleware import RequestContextMiddleware
from app.api.problems import install_problem_handlers
from app.api.resources import Resources
from app.console import routes as console
from app.ledger import routes as balance
from app.merchants import routes as gateway_priority
from app.payments import callback_routes as callbacks
from app.payments import routes as payment_intents
from app.payouts import routes as payouts
from app.payouts.service import read_noticed_sends
from app.refunds import routes as refunds
from app.reviews import routes as reviews
from app.risk import routes as risk_rules
from app.settings import Settings
from app.webhooks import event_routes as events
from app.webhooks import routes as webhook_endpoints

DESCRIPTION = (
    "Payment intents (PIX and cards) charged through several gateways, with every "
    "state change written together with its event in one PostgreSQL transaction."
)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = Resources.open(settings)
        resources.read_sends = partial(
            read_noticed_sends, resources.uow, resources.gateways, resources.cipher
        )
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.close()

    app = FastAPI(
        title="PixWave",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(check_request_input)],
        # FastAPI's own OpenTelemetry spans, metrics and logs stay off: the request's span
        # is RequestContextMiddleware's, under the one traceparent app/tracing.py keeps,
        # and FastAPI's logs would record exception messages (docs/decisions.md).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(payment_intents.router)
    app.include_router(refunds.router)
    app.include_router(payouts.router)
    app.include_router(callbacks.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(events.router)
    app.include_router(gateway_priority.router)
    app.include_router(balance.router)
    app.include_router(risk_rules.router)
    app.include_router(reviews.router)
    console.install(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        form_paths=(f"{console.PREFIX}/",),
    )
    app.openapi = lambda: _openapi_without_fastapi_422(app)  # type: ignore[method-assign]
    return app


def _openapi_without_fastapi_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 validation body we never send (bad input is a 400
    problem+json); drop it so the published schema tells the truth."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in schema["paths"].values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):
                    del responses["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
