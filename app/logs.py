"""Loguru JSON lines on stdout; every line carries the role and, in a request, its id."""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def configure_logging(*, role: str, level: str, json_lines: bool) -> None:
    logger.remove()
    logger.configure(extra={"role": role}, patcher=_add_request_id)
    if json_lines:
        logger.add(sys.stdout, level=level, serialize=True, enqueue=False)
    else:
        logger.add(
            sys.stdout,
            level=level,
            format="{time:HH:mm:ss.SSS} {level:<7} {message} {extra}",
        )


def _add_request_id(record: Record) -> None:
    request_id = current_request_id.get()
    if request_id is not None:
        record["extra"]["request_id"] = request_id
