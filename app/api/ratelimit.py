"""Fixed-window counters for rate limits: in Redis, so every API process counts
together; in this process's memory while Redis is away (each process then counts on
its own, so the fleet lets through up to the limit per process)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from app.redis_fallback import RedisOrMemory


@dataclass(frozen=True, slots=True)
class Window:
    """A limit's window: its length, the current one's number, and what is left of it."""

    seconds: int
    number: int
    remaining_seconds: int

    @classmethod
    def now(cls, seconds: int) -> Window:
        moment = time.time()
        number = int(moment) // seconds
        return cls(seconds, number, max(1, (number + 1) * seconds - int(moment)))


class _MemoryCounts:
    """This window's counts per key; a new window starts from zero."""

    def __init__(self) -> None:
        self._windows: dict[int, tuple[int, dict[str, int]]] = {}

    def counts(self, window: Window) -> dict[str, int]:
        number, counts = self._windows.get(window.seconds, (window.number, {}))
        if number != window.number:
            counts = {}
        self._windows[window.seconds] = (window.number, counts)
        return counts


class RateCounter:
    def __init__(self, redis: Redis, *, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace
        self._shared = RedisOrMemory("rate_limit")
        self._memory = _MemoryCounts()

    @property
    def degraded(self) -> bool:
        return self._shared.degraded

    def _key(self, name: str, window: Window) -> str:
        return f"{self._namespace}:ratelimit:{name}:{window.seconds}:{window.number}"

    async def hit(self, name: str, window: Window) -> int:
        """Count one more for `name` in this window; return the count so far."""

        async def on_redis() -> int:
            key = self._key(name, window)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2 * window.seconds)
                count, _ = await pipe.execute()
            return int(count)

        async def in_memory() -> int:
            counts = self._memory.counts(window)
            counts[name] = counts.get(name, 0) + 1
            return counts[name]

        return await self._shared.run(on_redis, in_memory)

    async def count(self, name: str, window: Window) -> int:
        async def on_redis() -> int:
            return int(await self._redis.get(self._key(name, window)) or 0)

        async def in_memory() -> int:
            return self._memory.counts(window).get(name, 0)

        return await self._shared.run(on_redis, in_memory)
