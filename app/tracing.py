"""W3C trace context carried from a request to the events it causes."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def accept_traceparent(header: str | None) -> str:
    """Keep a caller's valid ``traceparent``; start a new trace otherwise."""
    if header is not None and _TRACEPARENT.match(header):
        return header
    return new_traceparent()
