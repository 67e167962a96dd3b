"""Redis when it answers, this process's memory when it does not.

Redis holds what processes share to be better together (rate limits, gateway health,
webhook places), never money: PostgreSQL does. So while Redis is away each process
goes on with its own in-memory state, logs the outage once, counts every operation so
done (`pixwave_redis_fallbacks_total`), and tries Redis again a second later.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from loguru import logger
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

# Redis answers in well under a millisecond; one that takes a second is as good as gone.
REDIS_TIMEOUT_SECONDS = 1.0
# After a failure, operations go straight to memory for this long before Redis is tried.
REDIS_RETRY_AFTER_SECONDS = 1.0

REDIS_FALLBACKS = Counter(
    "pixwave_redis_fallbacks_total",
    "Operations done in process memory because Redis did not answer",
    ["component"],
)
REDIS_AVAILABLE = Gauge(
    "pixwave_redis_available",
    "1 while Redis answers this process's component, 0 while it runs on memory",
    ["component"],
)

T = TypeVar("T")

# What a Redis call raises when Redis is gone. asyncio adds RuntimeError: a command
# written to a connection Redis closed mid-call fails with "unable to perform operation
# on <TCPTransport closed=True …>" (seen killing Redis under load in `pixwave chaos`).
REDIS_DOWN_ERRORS = (RedisError, OSError, RuntimeError)


def open_redis(url: str) -> Redis:
    """A client that fails fast (no retries, short timeouts): a fallback is waiting."""
    return Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


class RedisOrMemory:
    """Runs an operation on Redis, or its in-memory twin while Redis is unavailable."""

    def __init__(self, component: str) -> None:
        self._component = component
        self._retry_at = 0.0
        self._down = False
        REDIS_AVAILABLE.labels(component).set(1)

    @property
    def degraded(self) -> bool:
        return self._down

    async def run(
        self, on_redis: Callable[[], Awaitable[T]], in_memory: Callable[[], Awaitable[T]]
    ) -> T:
        if self._down and time.monotonic() < self._retry_at:
            return await self._fall_back(in_memory)
        try:
            result = await on_redis()
        except REDIS_DOWN_ERRORS as exc:
            self._went_down(exc)
            return await self._fall_back(in_memory)
        if self._down:
            self._down = False
            REDIS_AVAILABLE.labels(self._component).set(1)
            logger.info("redis.recovered", component=self._component)
        return result

    async def _fall_back(self, in_memory: Callable[[], Awaitable[T]]) -> T:
        REDIS_FALLBACKS.labels(self._component).inc()
        return await in_memory()

    def _went_down(self, exc: Exception) -> None:
        self._retry_at = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
        if not self._down:
            self._down = True
            REDIS_AVAILABLE.labels(self._component).set(0)
            logger.warning(
                "redis.unavailable", component=self._component, error=repr(exc), fallback="memory"
            )
