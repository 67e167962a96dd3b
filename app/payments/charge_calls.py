"""Gateway calls the charge services share; a gateway without a usable answer means
RetryLater, and each call is safe to repeat."""

from __future__ import annotations

from app.db.models import PaymentAttempt
from app.domain.errors import GatewayError, GatewayRejected, RetryLater
from app.gateways.port import Charge, Gateway


async def refetch_charge(gateway: Gateway, reference: str) -> Charge | None:
    try:
        return await gateway.get_charge(reference)
    except GatewayError as exc:
        raise RetryLater(f"cannot read {reference}: {exc.message}") from exc


async def look_up(gateway: Gateway, attempt: PaymentAttempt) -> Charge | None:
    """What the gateway says about a try's charge: by reference when one is known, else
    by the try's idempotency key (None: the try made no charge)."""
    if attempt.gateway_reference is not None:
        return await refetch_charge(gateway, attempt.gateway_reference)
    try:
        return await gateway.find_charge(attempt.idempotency_key)
    except GatewayError as exc:
        raise RetryLater(f"cannot tell whether {attempt.id} charged: {exc.message}") from exc


async def cancel_charge(gateway: Gateway, reference: str) -> Charge | None:
    """Cancel a charge and return what the gateway says now: canceled or, when it
    refuses, most likely paid a moment ago (None: the gateway no longer knows it)."""
    try:
        return await gateway.cancel(reference)
    except GatewayRejected:
        return await refetch_charge(gateway, reference)
    except GatewayError as exc:
        raise RetryLater(f"cancel of {reference}: {exc.message}", keep_progress=True) from exc
