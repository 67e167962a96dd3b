"""Gateway health shared by every worker through Redis: a circuit breaker each.

Closed: calls go through. After FAILURE_THRESHOLD consecutive failures (refused,
timed out, 5xx) it opens for OPEN_SECONDS; then it is half-open: calls go through,
and the first failure opens it again at once, the first success closes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

FAILURE_THRESHOLD = 5
OPEN_SECONDS = 30
# A failure streak older than this is forgotten.
STREAK_MEMORY_SECONDS = 300


class GatewayHealth:
    def __init__(
        self,
        redis: Redis,
        *,
        namespace: str = "pixwave",
        threshold: int = FAILURE_THRESHOLD,
        open_seconds: int = OPEN_SECONDS,
    ) -> None:
        self._redis = redis
        self._namespace = namespace
        self._threshold = threshold
        self._open_seconds = open_seconds

    def _key(self, gateway: str, part: str) -> str:
        return f"{self._namespace}:gateway:{gateway}:{part}"

    async def available(self, gateways: Iterable[str]) -> set[str]:
        names = list(gateways)
        opened = await self._redis.mget([self._key(g, "open") for g in names]) if names else []
        return {g for g, flag in zip(names, opened, strict=True) if flag is None}

    async def record_success(self, gateway: str) -> None:
        await self._redis.delete(self._key(gateway, "failures"), self._key(gateway, "tripped"))

    async def record_failure(self, gateway: str) -> bool:
        """Count a failure; True when this one opened the circuit."""
        failures_key, tripped_key = self._key(gateway, "failures"), self._key(gateway, "tripped")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(failures_key)
            pipe.expire(failures_key, STREAK_MEMORY_SECONDS)
            pipe.exists(tripped_key)
            failures, _, half_open = await pipe.execute()
        if failures < self._threshold and not half_open:
            return False
        opened = await self._redis.set(
            self._key(gateway, "open"), 1, ex=self._open_seconds, nx=True
        )
        await self._redis.set(tripped_key, 1)
        await self._redis.delete(failures_key)
        return bool(opened)
