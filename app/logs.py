"""Loguru JSON lines on stdout; every line carries the role, in a request its id, and
in traced work (a request, a message, a delivery) its W3C trace id."""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING

from loguru import logger

from app.tracing import current_traceparent, trace_id

if TYPE_CHECKING:
    from loguru import Record

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def configure_logging(*, role: str, level: str, json_lines: bool) -> None:
    logger.remove()
    logger.configure(extra={"role": role}, patcher=_add_context)
    if json_lines:
        logger.add(sys.stdout, level=level, serialize=True, enqueue=False)
    else:
        logger.add(
            sys.stdout,
            level=level,
            format="{time:HH:mm:ss.SSS} {level:<7} {message} {extra}",
        )


def _add_context(record: Record) -> None:
    request_id = current_request_id.get()
    if request_id is not None:
        record["extra"]["request_id"] = request_id
    trace = trace_id(current_traceparent.get())
    if trace is not None:
        record["extra"]["trace_id"] = trace
