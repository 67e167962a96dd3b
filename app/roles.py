"""What every long-running background role (relay, workers) sets up the same way."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import uvloop
from loguru import logger
from prometheus_client import start_http_server
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.aws import AWS_CALL_ERRORS, AWS_UNREACHABLE_ERRORS
from app.db.session import create_engine
from app.settings import Settings


def run_role(main: Coroutine[Any, Any, None]) -> None:
    """Run a role's loop on uvloop, as uvicorn runs the API: the roles spend much of
    their CPU in the event loop itself (psycopg registers a reader per wait)."""
    uvloop.run(main)


@asynccontextmanager
async def background_role(
    settings: Settings, *, metrics_port: int
) -> AsyncIterator[tuple[AsyncEngine, asyncio.Event]]:
    """A metrics endpoint (port 0: none), a database engine, and an event that
    SIGTERM/SIGINT set so the role can drain and exit 0."""
    if metrics_port:
        start_http_server(metrics_port, addr=settings.api_host)
    engine = create_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield engine, stop
    finally:
        await engine.dispose()
        await logger.complete()


STARTUP_RETRY_FIRST_SECONDS = 1.0
STARTUP_RETRY_CAP_SECONDS = 30.0
Found = TypeVar("Found")


async def when_reachable(
    call: Callable[[], Awaitable[Found]],
    stop: asyncio.Event,
    *,
    role: str,
    first_delay: float = STARTUP_RETRY_FIRST_SECONDS,
) -> Found | None:
    """What a role looks up as it starts (topic ARNs, queue URLs), retried while AWS
    cannot be reached: an outage at start is waited out, not a crash. None if stopped."""
    delay = first_delay
    while not stop.is_set():
        try:
            return await call()
        except AWS_UNREACHABLE_ERRORS as exc:
            logger.warning(f"{role}.aws_unreachable", error=repr(exc), retry_in_seconds=delay)
        await sleep_unless(stop, delay)
        delay = min(delay * 2, STARTUP_RETRY_CAP_SECONDS)
    return None


_JOB_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, *AWS_CALL_ERRORS)


async def periodically(seconds: float, job: Callable[[], Awaitable[None]]) -> None:
    """Run ``job`` now and every ``seconds`` until cancelled. A failure of the database
    or AWS is logged and the next round tries again."""
    while True:
        try:
            await job()
        except _JOB_ERRORS as exc:
            logger.warning("background_job_failed", job=job.__qualname__, error=repr(exc))
        await asyncio.sleep(seconds)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
