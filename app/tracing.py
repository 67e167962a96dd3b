"""W3C trace context (https://www.w3.org/TR/trace-context/) carried through every hop:
a request, the events it writes, the handlers of those events, the gateway calls and
webhook POSTs they make, and the gateway callbacks that come back.

``current_traceparent`` is the span of the work in hand. Whatever that work sends on
(an event, an HTTP call) gets a child: the same trace id, a new span id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16
_SAMPLED = "01"

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-{_SAMPLED}"


def _valid(header: str | None) -> re.Match[str] | None:
    found = _TRACEPARENT.match(header) if header is not None else None
    if found is None or found[1] == _INVALID_TRACE_ID or found[2] == _INVALID_SPAN_ID:
        return None
    return found


def accept_traceparent(header: str | None) -> str:
    """Keep a caller's valid ``traceparent``; start a new trace otherwise."""
    return header if header is not None and _valid(header) else new_traceparent()


def child_of(parent: str | None) -> str:
    """A new span in ``parent``'s trace (its flags kept); a new trace without one."""
    found = _valid(parent)
    if found is None:
        return new_traceparent()
    return f"00-{found[1]}-{secrets.token_hex(8)}-{found[3]}"


def trace_id(traceparent: str | None) -> str | None:
    found = _valid(traceparent)
    return found[1] if found else None


def outgoing_traceparent() -> str:
    """What an event or an outbound call carries: a child of the work in hand."""
    return child_of(current_traceparent.get())


@contextmanager
def continue_trace(parent: str | None) -> Iterator[str]:
    """Run the block as a new span of ``parent``'s trace (a new trace without one)."""
    token = current_traceparent.set(child_of(parent))
    try:
        yield current_traceparent.get() or ""
    finally:
        current_traceparent.reset(token)


async def send_traceparent(request: httpx.Request) -> None:
    """An httpx request hook: every outbound call carries the trace it is made in."""
    request.headers[TRACEPARENT_HEADER] = outgoing_traceparent()
