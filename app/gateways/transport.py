"""One outbound call to a gateway, with its failure sorted into what PixWave knows.

A refused connection means the gateway did nothing; a timeout after the request
went out means it may have; 401/403/429/503 are refusals before any work (a
gateway sheds load or is down for maintenance with these); any other 5xx is
ambiguous (the gateway may have charged before failing). A gateway may name more
4xx answers that mean "the same request may still go through" (Mercado Pago's 409, 423
and 424): those are unknown too, never a refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from opentelemetry.trace import SpanKind

from app.domain.charges import AttemptOutcome
from app.domain.errors import (
    GatewayError,
    GatewayNotAttempted,
    GatewayOutcomeUnknown,
    GatewayRejected,
)
from app.gateways.port import ChargeAttempt
from app.tracing import OUTCOME, annotate, traced

_NOTHING_DONE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_REFUSED_BEFORE_WORK = frozenset({401, 403, 429, 503})
# Bodies of errors are logged and stored; a gateway's HTML error page need not be whole.
MAX_ERROR_CHARS = 300
GATEWAY = "pixwave.gateway"
OPERATION = "pixwave.gateway.operation"
_OUTCOMES: dict[type[GatewayError], str] = {
    GatewayNotAttempted: "not_attempted",
    GatewayOutcomeUnknown: "unknown",
}


async def call(
    client: httpx.AsyncClient,
    gateway: str,
    method: str,
    url: str,
    *,
    in_doubt: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> httpx.Response:
    """Send; raise a GatewayError subclass unless the answer is < 500 and not a refusal.
    ``in_doubt``: statuses after which the request may still take effect (unknown).
    Each call is a client span: gateway, operation (method and path, never the query,
    headers or body) and outcome; the request carries that span as its traceparent."""
    operation = f"{method} {httpx.URL(url).path}"
    attributes = {GATEWAY: gateway, OPERATION: operation}
    with traced(f"{gateway} {operation}", kind=SpanKind.CLIENT, attributes=attributes):
        try:
            response = await _send(client, gateway, method, url, in_doubt, **kwargs)
        except GatewayError as exc:
            annotate({OUTCOME: _OUTCOMES.get(type(exc), "rejected"), **_status_of(exc.status)})
            raise
        annotate({OUTCOME: "answered", **_status_of(response.status_code)})
        return response


def _status_of(status: int | None) -> dict[str, int]:
    return {} if status is None else {"http.response.status_code": status}


async def _send(
    client: httpx.AsyncClient,
    gateway: str,
    method: str,
    url: str,
    in_doubt: frozenset[int],
    **kwargs: Any,
) -> httpx.Response:
    try:
        response = await client.request(method, url, **kwargs)
    except _NOTHING_DONE as exc:
        raise GatewayNotAttempted(gateway, f"{type(exc).__name__}: {exc}") from exc
    except httpx.TransportError as exc:
        raise GatewayOutcomeUnknown(gateway, f"{type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status in _REFUSED_BEFORE_WORK:
        raise GatewayNotAttempted(gateway, _describe(response), status=status)
    if status >= 500 or status in in_doubt:
        raise GatewayOutcomeUnknown(gateway, _describe(response), status=status)
    return response


def _rejected(gateway: str, response: httpx.Response) -> GatewayRejected:
    return GatewayRejected(gateway, _describe(response), status=response.status_code)


def _describe(response: httpx.Response) -> str:
    return f"HTTP {response.status_code}: {response.text[:MAX_ERROR_CHARS]}"


def read_json(gateway: str, response: httpx.Response) -> Any:
    """The body of a successful answer, numbers as Decimal so money never passes
    through a float; a 4xx is the gateway saying no, garbage is an unknown outcome."""
    if response.status_code >= 400:
        raise _rejected(gateway, response)
    try:
        return response.json(parse_float=Decimal)
    except ValueError as exc:
        raise GatewayOutcomeUnknown(gateway, f"unreadable answer: {exc}") from exc


def read_time(value: Any) -> datetime:
    """A gateway's RFC 3339 time, which must carry its offset: one is never assumed."""
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"a time without an offset: {value!r}")
    return moment


async def attempt(create: Callable[[], Awaitable[ChargeAttempt]]) -> ChargeAttempt:
    """Fold a create call's failures into ../shared/DESIGN.md's attempt outcomes."""
    try:
        return await create()
    except GatewayNotAttempted as exc:
        return ChargeAttempt(AttemptOutcome.NOT_ATTEMPTED, reason=exc.message)
    except GatewayOutcomeUnknown as exc:
        return ChargeAttempt(AttemptOutcome.UNKNOWN, reason=exc.message)
    except GatewayRejected as exc:
        return ChargeAttempt(AttemptOutcome.DECLINED, reason=exc.message)
